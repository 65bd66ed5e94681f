"""Result files and tables: what `textgym eval` and `textgym bench` write and print."""

from __future__ import annotations

import csv
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from textgym.baselines.evaluate import EpisodeResult, summarize
from textgym.cache import write_json_atomic


def score_table(columns: Mapping[str, Sequence[EpisodeResult]], title: str = "") -> Table:
    """A rich table: one row per env id, one column per agent (mean normalized score, 0-100)."""
    summaries = {name: summarize(results) for name, results in columns.items()}
    rows = list(dict.fromkeys(key for summary in summaries.values() for key in summary))
    table = Table(title=title or None)
    table.add_column("env")
    for name in columns:
        table.add_column(name, justify="right")
    for row in rows:
        cells = [f"{summaries[n][row]['score']:.1f}" if row in summaries[n] else "-" for n in columns]
        table.add_row(row.removesuffix("-v0"), *cells, end_section=len(rows) > 1 and row == rows[-2])
    return table


def print_table(columns: Mapping[str, Sequence[EpisodeResult]], title: str = "",
                console: Console | None = None) -> None:
    (console or Console()).print(score_table(columns, title))


def write_results(out: str | Path, agent: str, results: Sequence[EpisodeResult],
                  meta: Mapping[str, Any]) -> dict[str, Path]:
    """`results.json` (meta, per-env summary, every episode) and `episodes.csv` in `out`."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, csv_path = out / "results.json", out / "episodes.csv"
    write_json_atomic(json_path, {"meta": dict(meta), "agent": agent, "summary": summarize(results),
                                  "episodes": [r.to_dict() for r in results]})
    with csv_path.open("w", newline="") as handle:
        fields = [f for f in EpisodeResult.__dataclass_fields__ if f != "actions"]
        writer = csv.DictWriter(handle, fieldnames=["agent", *fields])
        writer.writeheader()
        for result in results:
            row = result.to_dict()
            row.pop("actions")
            writer.writerow({"agent": agent, **row})
    return {"json": json_path, "csv": csv_path}
