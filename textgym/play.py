"""`textgym play ENV_ID`: play any textgym env yourself, in the terminal.

Type game commands as you would in the game, with tab completion over the admissible commands.
Session commands: `valid` (list admissible commands), `gold` (show the gold path), `subgoals`
(show sub-goal progress), `reset` (new episode), `help`, `quit`. Without a terminal (piped
input), commands are read line by line, which makes sessions scriptable.
"""

from __future__ import annotations

import argparse
import ast
import sys
from collections.abc import Callable, Iterator
from typing import Any

SESSION_COMMANDS = {
    "valid": "list the admissible commands",
    "gold": "show the gold path of this episode",
    "subgoals": "show the task's sub-goals and which are done",
    "reset": "start a new episode (next variation from the seed)",
    "help": "show this help",
    "quit": "leave (also: exit, Ctrl-D)",
}


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("env_id", help="a registered id, e.g. ScienceWorld/boil-v0")
    parser.add_argument("--split", default="train", choices=["train", "dev", "test"])
    parser.add_argument("--variation", type=int, default=None, help="play this variation")
    parser.add_argument("--seed", type=int, default=None, help="seed of the variation draw")
    parser.add_argument("--kwarg", action="append", default=[], metavar="KEY=VALUE",
                        help="more gym.make keywords, e.g. --kwarg simplification=easy (repeatable)")


def parse_kwargs(pairs: list[str]) -> dict[str, Any]:
    """`["a=1", "b=easy"]` -> `{"a": 1, "b": "easy"}` (Python literals where they parse)."""
    kwargs = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise ValueError(f"--kwarg takes KEY=VALUE, got {pair!r}.")
        try:
            kwargs[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            kwargs[key] = value
    return kwargs


def _lines(get_commands: Callable[[], list[str]]) -> Iterator[str]:
    """Input lines: a prompt with tab completion in a terminal, plain lines otherwise."""
    if sys.stdin.isatty() and sys.stdout.isatty():
        from prompt_toolkit import PromptSession
        from prompt_toolkit.completion import WordCompleter

        session: PromptSession = PromptSession()
        while True:
            completer = WordCompleter([*get_commands(), *SESSION_COMMANDS], sentence=True)
            try:
                yield session.prompt("> ", completer=completer, complete_while_typing=False)
            except EOFError:
                return
    else:
        for line in sys.stdin:
            print(f"> {line.rstrip()}")
            yield line


def run(args: argparse.Namespace) -> int:
    import gymnasium as gym
    from rich.columns import Columns
    from rich.console import Console
    from rich.markup import escape

    import textgym  # noqa: F401 - registers the ids

    console = Console(highlight=False)
    try:
        env = gym.make(args.env_id, split=args.split, variation=args.variation, admissible_commands=False,
                       **parse_kwargs(args.kwarg))
    except gym.error.Error as error:  # an unknown id: the CLI prints gym.make's "did you mean" line
        raise ValueError(str(error)) from None
    game = env.unwrapped
    seed = args.seed

    def show(observation: str, info: dict[str, Any]) -> None:
        console.print(escape(observation.rstrip()))
        console.print(f"[dim]score {info['score']:g}/{info['max_score']:g} | moves {info['moves']} | "
                      f"variation {info['variation']}[/dim]")

    def start() -> None:
        nonlocal seed
        observation, info = env.reset(seed=seed)
        seed = None  # later resets continue the seeded stream
        console.rule(f"{args.env_id} ({game.split} variation {info['variation']})")
        console.print(f"[bold]Task:[/bold] {escape(info['task'])}")
        show(observation, info)

    try:
        start()
        done = False
        for line in _lines(game.admissible_commands):
            command = line.strip()
            if not command:
                continue
            if command in ("quit", "exit"):
                break
            if command == "help":
                for name, text in SESSION_COMMANDS.items():
                    console.print(f"  [bold]{name:<9}[/bold] {text}")
            elif command == "reset":
                start()
                done = False
            elif command == "valid":
                commands = game.admissible_commands()
                console.print(Columns([escape(c) for c in commands], column_first=True, padding=(0, 3)))
                console.print(f"[dim]{len(commands)} admissible commands[/dim]")
            elif command == "gold":
                for index, action in enumerate(game.gold_path(), 1):
                    console.print(f"  {index:>3}. {escape(action)}")
            elif command == "subgoals":
                goals = game.subgoals()
                if not goals:
                    console.print("This env exposes no sub-goals.")
                for goal in goals:
                    mark = "[green]x[/green]" if goal.done else " "
                    kind = "in order" if goal.sequential else "unordered or optional"
                    console.print(f"  [{mark}] {escape(goal.description)} "
                                  f"[dim]({kind}, {goal.goal_type})[/dim]")
            elif done:
                console.print("The episode is over: type reset or quit.")
            else:
                try:
                    observation, reward, terminated, truncated, info = env.step(command)
                except (TypeError, ValueError) as error:
                    console.print(f"[red]{escape(str(error))}[/red]")
                    continue
                show(observation, info)
                if reward:
                    console.print(f"[yellow]reward {reward:+g}[/yellow]")
                if terminated or truncated:
                    done = True
                    verdict = "won" if info["won"] else "lost" if info["lost"] else "out of steps"
                    console.print(f"[bold]Episode over: {verdict}.[/bold] Type reset or quit.")
    finally:
        env.close()
    return 0
