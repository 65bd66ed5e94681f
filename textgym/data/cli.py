"""`textgym data gold | annotate | stats`: build gold trajectories, segment them into sub-goals,
and check the result. Each sub-command is a module with `configure(parser)` and `run(args)`."""

from __future__ import annotations

import argparse

from textgym.cli import add_lazy_commands

DATA_COMMANDS: dict[str, tuple[str, str]] = {
    "gold": ("textgym.data.gold", "replay gold paths and write one record per step"),
    "annotate": ("textgym.data.annotate", "segment gold episodes into sub-goals (progress or llm)"),
    "stats": ("textgym.data.stats", "episodes, steps, segments and coverage of a dataset folder"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_lazy_commands(parser, DATA_COMMANDS, dest="data_command")

