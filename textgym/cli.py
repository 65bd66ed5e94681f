"""`textgym`: play an env, build data, train baselines, evaluate agents, run the benchmark.

Each command lives in its own module with `configure(parser)` and `run(args) -> int`, imported
only when used, so `textgym play` starts without loading torch. A group of commands (`train`,
`data`) is a table of its own lazy sub-commands; the innermost module runs. This module is the
top of the package: nothing in `textgym` imports it.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

DATA_COMMANDS: dict[str, tuple[str, str]] = {
    "gold": ("textgym.data.gold", "replay gold paths and write one record per step"),
    "annotate": ("textgym.data.annotate", "segment gold episodes into sub-goals (progress or llm)"),
    "stats": ("textgym.data.stats", "episodes, steps, segments and coverage of a dataset folder"),
}

TRAINERS: dict[str, tuple[str, str]] = {
    "bc": ("textgym.agents.seq2seq.train_bc:train_bc", "behaviour cloning: a seq2seq LM on gold actions"),
    "subgoal": ("textgym.agents.seq2seq.train_subgoal:train_subgoal",
                "sub-goal distillation: planner + executor seq2seq LMs"),
    "ppo": ("textgym.agents.ppo.train:train_ppo", "MaskablePPO (sb3-contrib) over candidate actions"),
    "drrn": ("textgym.agents.drrn.train:train_drrn", "DRRN: Q-learning over candidate actions"),
    "cola-world-model": ("textgym.agents.cola.train_world_model:train_cola_world_model",
                         "CoLA stage 1: trunk, inverse dynamics and latent-conditioned world model"),
    "cola-policy": ("textgym.agents.cola.train_policy:train_cola_policy",
                    "CoLA: behaviour-clone the latent policy"),
    "cola-rl": ("textgym.agents.cola.train_rl:train_cola_rl",
                "CoLA: RL on the latent policy with env reward"),
}
"""Each trainer is a function `train_x(config: XTrainConfig) -> TrainedAgent`; its options are
generated from the config's fields (`TrainerCommand`)."""

GROUPS: dict[str, tuple[dict[str, tuple[str, str]], str]] = {
    "data": (DATA_COMMANDS, "data_command"),
    "train": (TRAINERS, "algorithm"),
}
"""Commands that are groups: their sub-command table and the namespace attribute of the choice."""

COMMANDS: dict[str, tuple[str, str]] = {
    "play": ("textgym.play", "play an env yourself in the terminal"),
    "data": ("data", "build trajectory data: gold paths, sub-goal annotation, stats"),
    "train": ("train", "train a baseline agent"),
    "eval": ("textgym.baselines.eval_cli", "evaluate an agent on a protocol"),
    "bench": ("textgym.baselines.bench", "compare every baseline (and yours) on a protocol"),
    "report": ("textgym.baselines.report_cli", "one table with intervals from saved runs (episodes.csv)"),
}


def add_lazy_commands(parser: argparse.ArgumentParser, table: dict[str, tuple[str, str]],
                      dest: str = "command") -> None:
    """Sub-commands whose modules (`configure(parser)`, `run(args)`) load only when chosen; a
    target named in `GROUPS` is a group of sub-commands instead of a module."""

    class LazyCommand(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
            if not values:
                parser.error(f"choose a {dest}: {', '.join(table)}")
            name, *rest = values
            if name not in table:
                parser.error(f"unknown {dest} {name!r}; choose from {', '.join(table)}")
            target, description = table[name]
            sub = argparse.ArgumentParser(prog=f"{parser.prog} {name}", description=description)
            setattr(namespace, dest, name)
            if target in GROUPS:
                add_lazy_commands(sub, *GROUPS[target])
                namespace.command_module = None  # the group's own sub-command sets it
            else:
                module = TrainerCommand(target) if ":" in target else importlib.import_module(target)
                module.configure(sub)
                namespace.command_module = module
            sub.parse_args(rest, namespace)

    parser.epilog = (f"{dest}s:\n" + "\n".join(f"  {n:<18} {h}" for n, (_, h) in table.items())
                     + f"\n\n`{parser.prog} {dest.upper()} --help` lists its options.")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(dest, nargs=argparse.REMAINDER, action=LazyCommand, metavar=f"{dest.upper()} ...")


class TrainerCommand:
    """`configure`/`run` of `textgym train NAME` for the trainer `module:function`: one option per
    field of the function's config dataclass (`textgym.agents.common.config`)."""

    def __init__(self, reference: str) -> None:
        import typing

        module, _, name = reference.partition(":")
        self.train = getattr(importlib.import_module(module), name)
        self.config_type = typing.get_type_hints(self.train)["config"]

    def configure(self, parser: argparse.ArgumentParser) -> None:
        from textgym.agents.common.config import add_arguments

        add_arguments(parser, self.config_type)

    def run(self, args: argparse.Namespace) -> int:
        from textgym.agents.common.config import from_arguments

        trained = self.train(from_arguments(self.config_type, args))
        print(f"saved to {trained.directory} (evaluate it with `textgym eval --agent {trained.directory}`)")
        return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="textgym", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=_version())
    add_lazy_commands(parser, COMMANDS)
    return parser


def _version() -> str:
    from textgym import SCIENCEWORLD_VERSION, TEXTWORLD_EXPRESS_VERSION, __version__

    return (f"textgym {__version__} (scienceworld {SCIENCEWORLD_VERSION}, "
            f"textworld-express {TEXTWORLD_EXPRESS_VERSION})")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "command_module", None):
        parser.print_help()
        return 2
    try:
        return int(args.command_module.run(args) or 0)
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except (ValueError, FileNotFoundError, RuntimeError) as error:
        # Bad input reaches the user as one line, not a stack trace (TEXTGYM_DEBUG=1 shows it).
        import os

        if os.environ.get("TEXTGYM_DEBUG"):
            raise
        print(f"textgym: error: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
