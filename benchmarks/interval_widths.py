"""How many episodes a protocol needs: interval half-widths for the first N variations per task.

Reads the `episodes.csv` of a bench run (for example `textgym bench --protocol quick` with the
default 10 variations) and, for each N, keeps the first N variations of every task and prints each
agent's 95% stratified-bootstrap interval half-width of the mean over tasks, and of the paired
difference to `--compare-to`. This is how the default protocol was sized (README, "Protocols").

    python benchmarks/interval_widths.py results/bench-quick-... --sizes 2 5 10
"""

from __future__ import annotations

import argparse
import math

from rich.console import Console
from rich.table import Table

from textgym.baselines.report import agent_statistics, combine_runs


def first_variations(results: list, count: int) -> list:
    """The episodes of the first `count` variations of each task."""
    kept = {}
    for r in sorted(results, key=lambda r: (r.env_id, r.variation)):
        kept.setdefault(r.env_id, [])
        if r.variation in kept[r.env_id] or len(kept[r.env_id]) < count:
            kept[r.env_id] = sorted({*kept[r.env_id], r.variation})
    return [r for r in results if r.variation in kept[r.env_id]]


def half_width(interval: dict[str, float]) -> str:
    """"±w", or "n/a" where a task had one episode (no interval, see `textgym.evaluation.statistics`)."""
    width = (interval["high"] - interval["low"]) / 2
    return "n/a" if math.isnan(width) else f"±{width:.1f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", nargs="+", help="bench results directories")
    parser.add_argument("--sizes", type=int, nargs="+", default=[2, 5, 10], help="variations per task")
    parser.add_argument("--compare-to", default="random")
    args = parser.parse_args()
    columns, protocol = combine_runs(args.runs)
    table = Table(title=f"95% interval half-widths ({protocol}): mean over tasks / paired difference "
                        f"to {args.compare_to}")
    table.add_column("agent")
    for size in args.sizes:
        table.add_column(f"{size} per task", justify="right")
    widths = {}
    for size in args.sizes:
        subset = {name: first_variations(results, size) for name, results in columns.items()}
        episodes = len(next(iter(subset.values())))
        table.columns[args.sizes.index(size) + 1].header = f"{size} per task ({episodes} ep.)"
        widths[size] = agent_statistics(subset, args.compare_to)
    for name in columns:
        cells = []
        for size in args.sizes:
            row = widths[size][name]
            cell = half_width(row["mean"])
            if "difference" in row:
                cell += f" / {half_width(row['difference'])}"
            cells.append(cell)
        table.add_row(name, *cells)
    Console().print(table)


if __name__ == "__main__":
    main()
