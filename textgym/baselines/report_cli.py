"""`textgym report DIR [DIR ...]`: one table with intervals from saved runs, without re-running.

Reads the `episodes.csv` of each results directory (from `textgym eval --out` or `textgym bench`,
run here, on another machine or on Ray), combines the episodes (an episode two runs both played
counts once if they agree; disagreeing runs are an error) and prints the per-task table and the
summary with intervals; `--out` writes the combined `results.json`, `episodes.csv` and `table.md`.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("runs", nargs="+", metavar="DIR", help="results directories (or episodes.csv files)")
    parser.add_argument("--compare-to", default="random", metavar="NAME",
                        help="paired comparison with this agent when the runs have it (default: random)")
    parser.add_argument("--out", default=None, help="write the combined results here")


def run(args: argparse.Namespace) -> int:
    from rich.console import Console

    from textgym.baselines.references import load_references
    from textgym.baselines.report import combine_runs, markdown_report, print_tables, write_results
    from textgym.evaluation.protocols import get_protocol

    columns, protocol_name = combine_runs(args.runs)
    references = load_references(get_protocol(protocol_name).descriptor()) if protocol_name else []
    compare_to = args.compare_to if args.compare_to in columns else None
    title = f"{protocol_name or 'combined'}: {len(args.runs)} run(s), mean score (0-100)"
    console = Console()
    print_tables(columns, title=title, console=console, references=references, compare_to=compare_to)
    if args.out:
        write_results(args.out, columns, {"protocol": protocol_name, "runs": [str(r) for r in args.runs]},
                      compare_to=compare_to)
        (Path(args.out) / "table.md").write_text(f"### {title}\n\n"
                                                 + markdown_report(columns, references, compare_to))
        console.print(f"wrote results.json, episodes.csv and table.md into {args.out}")
    return 0
