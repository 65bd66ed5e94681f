"""`textgym data stats DIR`: what a gold or annotated dataset folder holds, and whether it is sound.

Per task: episodes, steps, the share of gold paths that win and, for annotated data, segments per
episode, coverage and the LLM annotator's repairs. Coverage is the share of gold steps that sit in
exactly one well-formed segment: the episode's segments run 0, 1, 2, ... over contiguous steps,
each with one non-empty label and `end_of_subgoal` on its last step only. Gold episodes that the
annotation lacks (found through the folder's manifest) count as uncovered, so anything below 100%
means the data is incomplete or corrupt.
"""

from __future__ import annotations

import argparse
import collections
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textgym.cache import read_json, write_json_atomic
from textgym.data.gold import MANIFEST, episode_files, iter_episodes

SEGMENT_FIELDS = ("subgoal", "segment", "end_of_subgoal", "annotator", "repaired")


def segment_problem(steps: Sequence[dict[str, Any]]) -> str:
    """Why an annotated episode's segments are malformed, or "" when they tile it correctly."""
    if any(field not in step for step in steps for field in SEGMENT_FIELDS):
        return "steps without segment fields"
    expected = 0
    for position, step in enumerate(steps):
        last = position + 1 == len(steps) or steps[position + 1]["segment"] != step["segment"]
        if step["segment"] != expected:
            return f"step {position} is in segment {step['segment']}, expected {expected}"
        if not isinstance(step["subgoal"], str) or not step["subgoal"].strip():
            return f"step {position} has no sub-goal label"
        if not last and steps[position + 1]["subgoal"] != step["subgoal"]:
            return f"segment {expected} changes label at step {position + 1}"
        if bool(step["end_of_subgoal"]) != last:
            return f"step {position} has end_of_subgoal={step['end_of_subgoal']}, expected {last}"
        expected += last
    return ""


def dataset_stats(root: str | Path) -> dict[str, Any]:
    """Per env id and overall: episodes, steps, won, and for annotated data segments, coverage,
    repaired segments (LLM) and fallback episodes; plus the problems found."""
    root = Path(root)
    manifest = read_json(root / MANIFEST) or {}
    annotated = manifest.get("kind") == "annotated"
    rows: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
    problems: list[str] = []
    seen: set[tuple[str, int]] = set()
    for path, steps in iter_episodes(root):
        row = rows[steps[0]["env_id"]]
        seen.add((steps[0]["env_id"], steps[0]["variation"]))
        row["episodes"] += 1
        row["steps"] += len(steps)
        row["won"] += bool(steps[-1]["won"])
        if not annotated:
            continue
        if problem := segment_problem(steps):
            problems.append(f"{path}: {problem}")
            continue
        row["covered"] += len(steps)
        row["segments"] += steps[-1]["segment"] + 1
        ends = [step for step in steps if step["end_of_subgoal"]]
        if steps[0]["annotator"] == "llm":
            row["llm_episodes"] += 1
            row["llm_segments"] += len(ends)
            row["repaired"] += sum(bool(step["repaired"]) for step in ends)
        elif manifest.get("annotator") == "llm":
            row["fallbacks"] += 1
    source = Path(manifest.get("source", "")) if annotated else None
    if source is not None and source.is_dir():  # gold episodes the annotation lacks
        for path in episode_files(source):
            relative = path.relative_to(source)
            env_id = "/".join(relative.parts[:-1])
            if (env_id, int(path.stem)) not in seen:
                with open(path, "rb") as handle:
                    rows[env_id]["steps"] += sum(1 for line in handle if line.strip())
                rows[env_id]["missing"] += 1
                problems.append(f"{path}: not annotated")
    table = {env_id: _summary(row, annotated) for env_id, row in sorted(rows.items())}
    total = sum(rows.values(), collections.Counter())
    table["overall"] = _summary(total, annotated)
    return {"kind": manifest.get("kind", "gold"), "annotator": manifest.get("annotator"), "tasks": table,
            "problems": problems}


def _summary(row: collections.Counter, annotated: bool) -> dict[str, float | None]:
    """Counts and shares of one row; `repaired` is None where no segment came from the LLM."""
    summary: dict[str, float | None] = {"episodes": row["episodes"], "steps": row["steps"],
                                 "won": _share(row["won"], row["episodes"])}
    if annotated:
        summary.update(segments_per_episode=row["segments"] / max(1, row["episodes"] - row["missing"]),
                       coverage=_share(row["covered"], row["steps"]), missing=row["missing"],
                       llm_episodes=row["llm_episodes"], fallbacks=row["fallbacks"],
                       repaired=_share(row["repaired"], row["llm_segments"]) if row["llm_segments"] else None)
    return summary


def _share(part: float, whole: float) -> float:
    return 100.0 * part / whole if whole else 0.0


def print_stats(stats: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    annotated = stats["kind"] == "annotated"
    llm = stats["annotator"] == "llm"
    title = f"{stats['annotator']} annotation" if annotated else "gold trajectories"
    table = Table(title=title)
    columns = ["task", "eps", "steps", "won%"]
    columns += ["seg/ep", "cover%"] if annotated else []
    columns += ["llm eps", "fallback", "repair%"] if llm else []
    for column in columns:
        table.add_column(column, justify="left" if column == "task" else "right")
    tasks = stats["tasks"]
    for name, row in tasks.items():
        cells = [name.split("/")[-1].removesuffix("-v0"), f"{row['episodes']:d}", f"{row['steps']:d}",
                 f"{row['won']:.0f}"]
        if annotated:
            cells += [f"{row['segments_per_episode']:.1f}", f"{row['coverage']:.1f}"]
        if llm:
            repaired = "-" if row["repaired"] is None else f"{row['repaired']:.1f}"
            cells += [f"{row['llm_episodes']:d}", f"{row['fallbacks']:d}", repaired]
        table.add_row(*cells, end_section=name == list(tasks)[-2])
    console = Console(width=max(Console().width, 120))
    console.print(table)
    for problem in stats["problems"][:20]:
        console.print(f"[red]problem[/red] {problem}")
    if len(stats["problems"]) > 20:
        console.print(f"... and {len(stats['problems']) - 20} more problems")


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("folder", help="a folder written by `textgym data gold` or `textgym data annotate`")
    parser.add_argument("--json", default=None, metavar="PATH", help="also write the figures as JSON")


def run(args: argparse.Namespace) -> int:
    stats = dataset_stats(args.folder)
    print_stats(stats)
    if args.json:
        write_json_atomic(Path(args.json), stats)
    return 1 if stats["problems"] else 0
