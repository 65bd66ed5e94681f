"""Result files and tables: what `textgym eval` and `textgym bench` print and write."""

from __future__ import annotations

import csv
import importlib.metadata
import json
import os
import platform
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from textgym.baselines.evaluate import EpisodeResult, summarize
from textgym.cache import write_json_atomic

REFERENCE_FILE = Path(__file__).with_name("reference_scores.json")
_PACKAGES = ("textgym", "scienceworld", "textworld-express", "textworld", "gymnasium", "numpy", "torch",
             "transformers", "tokenizers", "stable-baselines3", "sb3-contrib", "ray", "py4j")


def versions() -> dict[str, str]:
    """Every library version a run depends on, plus Python, the OS, Java and the accelerator."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in _PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["java"] = os.environ.get("JAVA_HOME", "") or "java on PATH"
    try:
        import torch

        found["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    except ImportError:
        found["accelerator"] = "unknown (no torch)"
    return found


def reference_scores(protocol: str) -> list[dict[str, Any]]:
    """Published scores measured under `protocol` (see reference_scores.json for sources)."""
    references = json.loads(REFERENCE_FILE.read_text())["references"]
    return [ref for ref in references if ref["protocol"] == protocol]


def table_rows(columns: Mapping[str, Sequence[EpisodeResult]],
               references: Sequence[Mapping[str, Any]] = ()) -> tuple[list[str], list[list[str]]]:
    """Header and rows: one row per env id plus "overall", one column per agent, then references.

    Scores are mean normalized scores (0-100); the overall row averages the per-env means.
    """
    from textgym.envs.scienceworld import TASKS

    summaries = {name: summarize(results) for name, results in columns.items()}
    env_ids = list(dict.fromkeys(k for summary in summaries.values() for k in summary if k != "overall"))
    header = ["env", *columns, *(f"{ref['agent']} (published)" for ref in references)]
    rows = []
    for env_id in [*env_ids, "overall"]:
        cells = [f"{summaries[n][env_id]['score']:.1f}" if env_id in summaries[n] else "-" for n in columns]
        task_id = TASKS.get(env_id.removeprefix("ScienceWorld/").removesuffix("-v0"), "")
        for ref in references:
            value = ref["overall"] if env_id == "overall" else ref["tasks"].get(task_id)
            cells.append("-" if value is None else f"{value:.1f}")
        rows.append([env_id.removesuffix("-v0"), *cells])
    return header, rows + cost_rows(columns, len(references))


def cost_rows(columns: Mapping[str, Sequence[EpisodeResult]], blanks: int = 0) -> list[list[str]]:
    """When an agent reports tokens (an LLM agent): every agent's seconds per episode, tokens per
    episode and score per 1k tokens (mean score over mean tokens per episode, x1000)."""
    def mean(values: list[float]) -> float:
        return sum(values) / len(values) if values else 0.0

    tokens = {name: mean([r.usage.get("tokens_in", 0) + r.usage.get("tokens_out", 0) for r in rs])
              for name, rs in columns.items()}
    if not any(tokens.values()):
        return []
    scores = {name: summarize(rs)["overall"]["score"] if rs else 0.0 for name, rs in columns.items()}
    rows = [["seconds / episode", *(f"{mean([r.seconds for r in rs]):.1f}" for rs in columns.values())],
            ["tokens / episode", *(f"{t:.0f}" if t else "-" for t in tokens.values())],
            ["score / 1k tokens", *(f"{1000 * scores[n] / t:.2f}" if t else "-" for n, t in tokens.items())]]
    return [row + ["-"] * blanks for row in rows]


def score_table(columns: Mapping[str, Sequence[EpisodeResult]], title: str = "",
                references: Sequence[Mapping[str, Any]] = ()) -> Table:
    header, rows = table_rows(columns, references)
    table = Table(title=title or None)
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right")
    overall = next(i for i, row in enumerate(rows) if row[0] == "overall")
    for index, row in enumerate(rows):  # lines above and below the overall row
        table.add_row(*row, end_section=index in (overall - 1, overall) and index < len(rows) - 1)
    return table


def print_table(columns: Mapping[str, Sequence[EpisodeResult]], title: str = "",
                console: Console | None = None, references: Sequence[Mapping[str, Any]] = ()) -> None:
    (console or Console()).print(score_table(columns, title, references))


def markdown_table(columns: Mapping[str, Sequence[EpisodeResult]],
                   references: Sequence[Mapping[str, Any]] = ()) -> str:
    header, rows = table_rows(columns, references)
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_episodes_csv(path: Path, columns: Mapping[str, Sequence[EpisodeResult]]) -> None:
    """One row per agent and episode (the actions are in the JSON); an agent's usage counts
    (`EpisodeResult.usage`: tokens, requests, retries...) are columns of their own."""
    fields = [f for f in EpisodeResult.__dataclass_fields__ if f not in ("actions", "usage")]
    usage = list(dict.fromkeys(key for results in columns.values() for r in results for key in r.usage))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["agent", *fields, *usage])
        writer.writeheader()
        for agent, results in columns.items():
            for result in results:
                row = result.to_dict()
                row.pop("actions")
                costs = row.pop("usage")
                writer.writerow({"agent": agent, **row, **costs})


def write_results(out: str | Path, columns: Mapping[str, Sequence[EpisodeResult]],
                  meta: Mapping[str, Any]) -> dict[str, Path]:
    """`results.json` (meta, per-agent summaries, every episode with its actions) and `episodes.csv`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "csv": out / "episodes.csv"}
    write_json_atomic(paths["json"], {
        "meta": dict(meta),
        "summary": {agent: summarize(results) for agent, results in columns.items()},
        "episodes": {agent: [r.to_dict() for r in results] for agent, results in columns.items()},
    })
    write_episodes_csv(paths["csv"], columns)
    return paths
