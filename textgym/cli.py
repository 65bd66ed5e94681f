"""`textgym`: play an env, build data, train baselines, evaluate agents, run the benchmark.

Each command lives in its own module with `configure(parser)` and `run(args) -> int`, imported
only when used, so `textgym play` starts without loading torch. A group of commands (`train`,
`data`) is a module whose `configure` adds its own lazy sub-commands; the innermost module runs.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, tuple[str, str]] = {
    "play": ("textgym.play", "play an env yourself in the terminal"),
    "data": ("textgym.data.cli", "build trajectory data: gold paths, sub-goal annotation, stats"),
    "train": ("textgym.baselines.train", "train a baseline agent"),
    "eval": ("textgym.baselines.eval_cli", "evaluate an agent on a protocol"),
    "bench": ("textgym.baselines.bench", "compare every baseline (and yours) on a protocol"),
}


def add_lazy_commands(parser: argparse.ArgumentParser, table: dict[str, tuple[str, str]],
                      dest: str = "command") -> None:
    """Sub-commands whose modules (`configure(parser)`, `run(args)`) load only when chosen."""

    class LazyCommand(argparse.Action):
        def __call__(self, parser, namespace, values, option_string=None):  # type: ignore[override]
            if not values:
                parser.error(f"choose a {dest}: {', '.join(table)}")
            name, *rest = values
            if name not in table:
                parser.error(f"unknown {dest} {name!r}; choose from {', '.join(table)}")
            module = importlib.import_module(table[name][0])
            sub = argparse.ArgumentParser(prog=f"{parser.prog} {name}", description=table[name][1])
            module.configure(sub)
            setattr(namespace, dest, name)
            namespace.command_module = module  # a nested group's own sub-command replaces it below
            sub.parse_args(rest, namespace)

    parser.epilog = (f"{dest}s:\n" + "\n".join(f"  {n:<18} {h}" for n, (_, h) in table.items())
                     + f"\n\n`{parser.prog} {dest.upper()} --help` lists its options.")
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument(dest, nargs=argparse.REMAINDER, action=LazyCommand, metavar=f"{dest.upper()} ...")


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
