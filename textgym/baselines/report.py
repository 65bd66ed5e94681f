"""Result files and tables: what `textgym eval`, `textgym bench` and `textgym report` print and write.

Every table carries intervals (`textgym.evaluation.statistics`): a per-task table of mean scores,
and a summary with, per agent, the mean over tasks and the IQM with 95% stratified-bootstrap
intervals, and the paired difference to a named agent (`--compare-to`, default `random`) with its
interval and the probability of improvement. Published references stand in the per-task table
only when their protocol is ours (`textgym.baselines.references`); the others are listed apart,
with what differs.
"""

from __future__ import annotations

import csv
import json
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import fields
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from textgym.baselines.references import Reference
from textgym.cache import write_json_atomic
from textgym.evaluation import statistics
from textgym.evaluation.evaluate import EpisodeResult, summarize

Columns = Mapping[str, Sequence[EpisodeResult]]
"""Agent name -> its episodes (several training seeds: `EpisodeResult.training_seed` tells them apart)."""


def short_env_names(env_ids: Sequence[str]) -> dict[str, str]:
    """Table labels: without "-v0", and without the family when every id shares it."""
    families = {env_id.split("/", 1)[0] for env_id in env_ids}
    strip = len(families) == 1
    return {env_id: (env_id.split("/", 1)[-1] if strip else env_id).removesuffix("-v0") for env_id in env_ids}


def scores_by_task(results: Sequence[EpisodeResult]) -> dict[str, dict[tuple, float]]:
    """Task -> (variation, episode seed, training seed) -> normalized score."""
    table: dict[str, dict[tuple, float]] = defaultdict(dict)
    for r in results:
        key = (r.variation, r.seed, r.training_seed)
        if key in table[r.env_id]:
            raise ValueError(f"{r.env_id} variation {r.variation} (seed {r.seed}, training seed "
                             f"{r.training_seed}) appears twice in one agent's results.")
        table[r.env_id][key] = r.normalized
    return dict(table)


def paired_scores(results_a: Sequence[EpisodeResult], results_b: Sequence[EpisodeResult],
                  ) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    """Per task, A's episodes and B's score on the same episode (B's mean over its training seeds,
    so an agent trained with 3 seeds pairs with a random agent run once)."""
    b_by_episode: dict[tuple, list[float]] = defaultdict(list)
    for r in results_b:
        b_by_episode[(r.env_id, r.variation, r.seed)].append(r.normalized)
    a_scores: dict[str, list[float]] = defaultdict(list)
    b_scores: dict[str, list[float]] = defaultdict(list)
    for r in results_a:
        key = (r.env_id, r.variation, r.seed)
        if key not in b_by_episode:
            raise ValueError(f"{r.env_id} variation {r.variation} (seed {r.seed}) was not played by the "
                             "agent compared to; a paired comparison needs the same episodes.")
        a_scores[r.env_id].append(r.normalized)
        b_scores[r.env_id].append(sum(b_by_episode[key]) / len(b_by_episode[key]))
    if {env for env, _, _ in b_by_episode} != set(a_scores):
        raise ValueError("The agents were evaluated on different tasks; a paired comparison needs the "
                         "same episodes.")
    return dict(a_scores), dict(b_scores)


def agent_statistics(columns: Columns, compare_to: str | None = "random") -> dict[str, dict[str, Any]]:
    """Per agent: episodes, training seeds, mean and IQM over tasks with 95% intervals, and (when
    `compare_to` is one of the columns) the paired difference and probability of improvement."""
    if compare_to is not None and compare_to not in columns:
        compare_to = None
    out = {}
    for name, results in columns.items():
        if not results:
            continue
        by_task = {task: list(scores.values()) for task, scores in scores_by_task(results).items()}
        row: dict[str, Any] = {
            "episodes": len(results),
            "training_seeds": sorted({r.training_seed for r in results if r.training_seed is not None}),
            "mean": statistics.mean_over_tasks(by_task).to_dict(),
            "iqm": statistics.interquartile_mean(by_task).to_dict(),
        }
        if compare_to is not None and name != compare_to:
            a, b = paired_scores(results, columns[compare_to])
            row["compare_to"] = compare_to
            row["difference"] = statistics.paired_difference(a, b).to_dict()
            row["probability_of_improvement"] = statistics.probability_of_improvement(a, b).to_dict()
        out[name] = row
    return out


def _interval(values: Mapping[str, float], digits: int) -> str:
    return format(statistics.Interval(values["estimate"], values["low"], values["high"]), f".{digits}f")


def summary_rows(stats: Mapping[str, Mapping[str, Any]],
                 digits: int = 1) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the summary: one row per agent."""
    compare_to = next((row["compare_to"] for row in stats.values() if "compare_to" in row), None)
    header = ["agent", "mean [95% CI]", "IQM [95% CI]"]
    if compare_to:
        header += [f"vs {compare_to} [95% CI]", f"P(> {compare_to})"]
    header.append("episodes")
    rows = []
    for name, row in stats.items():
        cells = [name, _interval(row["mean"], digits), _interval(row["iqm"], digits)]
        if compare_to:
            if "difference" in row:
                improvement = row["probability_of_improvement"]["estimate"]
                cells += [_interval(row["difference"], digits), f"{improvement:.2f}"]
            else:
                cells += ["-", "-"]
        seeds = len(row["training_seeds"])
        cells.append(f"{row['episodes']}" + (f" ({seeds} seeds)" if seeds > 1 else ""))
        rows.append(cells)
    return header, rows


def table_rows(columns: Columns, references: Sequence[Reference] = ()) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the per-task table: one row per env id plus "overall", one column per
    agent, then the references measured under the same protocol (the others are not shown here)."""
    from textgym.envs.scienceworld import TASKS

    summaries = {name: summarize(results) for name, results in columns.items()}
    env_ids = list(dict.fromkeys(k for summary in summaries.values() for k in summary if k != "overall"))
    labels = short_env_names(env_ids)
    same = [ref for ref in references if ref.same_protocol]
    header = ["env", *columns, *(f"{ref.agent} (published)" for ref in same)]
    rows = []
    for env_id in [*env_ids, "overall"]:
        cells = [f"{summaries[n][env_id]['score']:.1f}" if env_id in summaries[n] else "-" for n in columns]
        task_id = TASKS.get(env_id.removeprefix("ScienceWorld/").removesuffix("-v0"), "")
        for ref in same:
            value = ref.overall if env_id == "overall" else ref.tasks.get(task_id)
            cells.append("-" if value is None else f"{value:.1f}")
        rows.append([labels.get(env_id, env_id), *cells])
    return header, rows + cost_rows(columns, len(same))


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


def other_protocol_rows(references: Sequence[Reference], env_ids: Sequence[str]) -> list[list[str]]:
    """References on the same tasks under another protocol: agent, overall, what differs."""
    ours = f"({len(set(env_ids))} tasks)"
    return [[ref.agent, f"{ref.overall:.1f}", "; ".join(ref.differs)] for ref in references
            if not ref.same_protocol and ref.protocol["env"].endswith(ours)]


def _rich_table(header: Sequence[str], rows: Sequence[Sequence[str]], title: str = "",
                rule_overall: bool = False) -> Table:
    table = Table(title=title or None, box=box.SIMPLE_HEAD, pad_edge=False, title_justify="left")
    for index, name in enumerate(header):
        # Long first-column names wrap instead of being cut, so no two rows read the same.
        table.add_column(escape(name), justify="left" if index == 0 else "right", overflow="fold")
    overall = next((i for i, row in enumerate(rows) if row[0] == "overall"), None) if rule_overall else None
    for index, row in enumerate(rows):  # lines above and below the overall row
        table.add_row(*map(escape, row), end_section=overall is not None and index in (overall - 1, overall)
                      and index < len(rows) - 1)
    return table


def print_tables(columns: Columns, title: str = "", console: Console | None = None,
                 references: Sequence[Reference] = (), compare_to: str | None = "random") -> dict[str, Any]:
    """Print the per-task table, the summary with intervals and any other-protocol references;
    return the statistics."""
    console = console or Console()
    header, rows = table_rows(columns, references)
    console.print(_rich_table(header, rows, title, rule_overall=True))
    stats = agent_statistics(columns, compare_to)
    header, rows = summary_rows(stats, digits=0)
    console.print(_rich_table(header, rows, "overall: mean over tasks, IQM, paired difference; 95% "
                                            "stratified-bootstrap intervals"))
    env_ids = [r.env_id for results in columns.values() for r in results]
    others = other_protocol_rows(references, env_ids)
    if others:
        console.print(_rich_table(["published", "overall", "protocol differs in"], others,
                                  "published, under another protocol (not comparable as is)"))
    return stats


def markdown(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join([*lines, *("| " + " | ".join(row) + " |" for row in rows)]) + "\n"


def markdown_report(columns: Columns, references: Sequence[Reference] = (),
                    compare_to: str | None = "random") -> str:
    """`table.md`: the per-task table, the summary with intervals, other-protocol references."""
    text = markdown(*table_rows(columns, references))
    text += "\n" + markdown(*summary_rows(agent_statistics(columns, compare_to)))
    others = other_protocol_rows(references, [r.env_id for results in columns.values() for r in results])
    if others:
        text += "\nPublished under another protocol (not comparable as is):\n\n"
        text += markdown(["published", "overall", "protocol differs in"], others)
    return text


_CSV_FIELDS = [f.name for f in fields(EpisodeResult) if f.name not in ("actions", "usage")]


def write_episodes_csv(path: Path, columns: Columns) -> None:
    """One row per agent and episode (the actions are in the JSON); an agent's usage counts
    (`EpisodeResult.usage`: tokens, requests, retries...) are columns of their own."""
    usage = list(dict.fromkeys(key for results in columns.values() for r in results for key in r.usage))
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=["agent", *_CSV_FIELDS, *usage])
        writer.writeheader()
        for agent, results in columns.items():
            for result in results:
                row = result.to_dict()
                row.pop("actions")
                costs = row.pop("usage")
                writer.writerow({"agent": agent, **row, **costs})


def read_episodes_csv(path: str | Path) -> dict[str, list[EpisodeResult]]:
    """The columns of an `episodes.csv` written by `write_episodes_csv`."""
    parse = {"variation": int, "seed": int, "score": float, "max_score": float, "normalized": float,
             "won": lambda v: v == "True", "lost": lambda v: v == "True", "steps": int, "seconds": float,
             "training_seed": lambda v: int(v) if v not in ("", "None") else None}
    columns: dict[str, list[EpisodeResult]] = defaultdict(list)
    with Path(path).open(newline="") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in ("agent", *parse) if name != "training_seed" and name not in
                   (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{path} is not a textgym episodes.csv: it has no {missing} column(s).")
        for row in reader:
            values = {name: parse.get(name, str)(row[name]) for name in _CSV_FIELDS if name in row}
            usage = {key: float(value) for key, value in row.items()
                     if key != "agent" and key not in _CSV_FIELDS and value not in ("", None)}
            columns[row["agent"]].append(EpisodeResult(**values, usage=usage))
    return dict(columns)


def write_results(out: str | Path, columns: Columns, meta: Mapping[str, Any],
                  compare_to: str | None = "random") -> dict[str, Path]:
    """`results.json` (meta, per-agent summaries and statistics, every episode with its actions)
    and `episodes.csv`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    paths = {"json": out / "results.json", "csv": out / "episodes.csv"}
    write_json_atomic(paths["json"], {
        "meta": dict(meta),
        "summary": {agent: summarize(results) for agent, results in columns.items()},
        "statistics": agent_statistics(columns, compare_to),
        "episodes": {agent: [r.to_dict() for r in results] for agent, results in columns.items()},
    })
    write_episodes_csv(paths["csv"], columns)
    return paths


def combine_runs(directories: Sequence[str | Path]) -> tuple[dict[str, list[EpisodeResult]], str | None]:
    """The episodes of several result directories as one set of columns, and their protocol.

    An episode that two runs both played (same agent, env, variation, seed and training seed) is
    kept once when both runs scored it the same (a reproduced run), and is an error otherwise.
    Runs of different protocols cannot be combined.
    """
    columns: dict[str, dict[tuple, EpisodeResult]] = defaultdict(dict)
    protocols = set()
    for directory in map(Path, directories):
        csv_path = directory / "episodes.csv" if directory.is_dir() else directory
        if not csv_path.is_file():
            raise FileNotFoundError(f"{directory}: no episodes.csv (write one with `textgym eval --out` or "
                                    "`textgym bench`).")
        meta_path = csv_path.with_name("results.json")
        if meta_path.is_file():
            protocols.add(json.loads(meta_path.read_text()).get("meta", {}).get("protocol"))
        for agent, results in read_episodes_csv(csv_path).items():
            for r in results:
                key = (r.env_id, r.variation, r.seed, r.training_seed)
                seen = columns[agent].get(key)
                if seen is not None and seen.normalized != r.normalized:
                    raise ValueError(f"{agent} scored {r.env_id} variation {r.variation} (seed {r.seed}) "
                                     f"{seen.normalized:.1f} in one run and {r.normalized:.1f} in "
                                     f"{csv_path}: the runs disagree, so they cannot be combined.")
                columns[agent][key] = r
    protocols.discard(None)
    if len(protocols) > 1:
        raise ValueError(f"The runs used different protocols ({', '.join(sorted(protocols))}); combine runs "
                         "of one protocol.")
    combined = {agent: list(episodes.values()) for agent, episodes in columns.items()}
    return combined, next(iter(protocols), None)
