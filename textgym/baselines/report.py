"""Result files and tables: what `textgym eval` and `textgym bench` print and write."""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from textgym.cache import write_json_atomic
from textgym.evaluation.evaluate import EpisodeResult, summarize

REFERENCE_FILE = Path(__file__).with_name("reference_scores.json")
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
    return header, rows


def score_table(columns: Mapping[str, Sequence[EpisodeResult]], title: str = "",
                references: Sequence[Mapping[str, Any]] = ()) -> Table:
    header, rows = table_rows(columns, references)
    table = Table(title=title or None)
    for index, name in enumerate(header):
        table.add_column(name, justify="left" if index == 0 else "right")
    for row in rows:
        table.add_row(*row, end_section=len(rows) > 1 and row is rows[-2])
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
    """One row per agent and episode (the actions are in the JSON)."""
    fields = [f for f in EpisodeResult.__dataclass_fields__ if f != "actions"]
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["agent", *fields])
        writer.writeheader()
        for agent, results in columns.items():
            for result in results:
                row = result.to_dict()
                row.pop("actions")
                writer.writerow({"agent": agent, **row})


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
