"""TextWorld speed: textgym against TextWorld's own `textworld.gym` env, in one run.

Replays the same commands, the walkthrough of the first `--games` test games of each challenge
(default settings), through (a) `textworld.gym` asking for what textgym's `info` holds (score,
max score, won, lost, moves, objective), (b) textgym through `gym.make` (so with Gymnasium's
checker, order and time-limit wrappers), and (c)/(d) both again with admissible commands, which
makes TextWorld track the game state on every step. The systems take turns on every replay, so
load on the machine hits them alike, after one untimed round. Each step is timed on its own;
the overhead is the ratio of the median step times (the means are printed too). The target is
at most +10%. The games are generated first if the cache lacks them.

    python benchmarks/textworld_step.py [--games 3] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics
from typing import Any

import gymnasium as gym
import textworld
import textworld.gym
from timing import time_replay, winning_prefix

import textgym
from textgym.envs.textworld_games import CHALLENGES

NATIVE, OURS, NATIVE_ADMISSIBLE, OURS_ADMISSIBLE = SYSTEMS = (
    "textworld.gym", "textgym", "textworld.gym + admissible", "textgym + admissible")


def native_env(path: str, *, admissible: bool) -> Any:
    infos = textworld.EnvInfos(score=True, max_score=True, won=True, lost=True, moves=True, objective=True,
                               admissible_commands=admissible)
    return textworld.gym.make(textworld.gym.register_game(path, infos, max_episode_steps=10**6))


def replay(env: Any, variation: int, actions: list[str]) -> tuple[float, list[float]]:
    """Seconds for a new episode, and for each step of `actions`."""
    if isinstance(env, gym.Env):
        return time_replay(lambda: env.reset(options={"variation": variation}), env.step, actions)
    return time_replay(env.reset, env.step, actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=3, help="test games per challenge")
    parser.add_argument("--repeats", type=int, default=10, help="timed replays per game")
    args = parser.parse_args()
    print(f"textgym {textgym.__version__}, textworld {textworld.__version__}; {len(CHALLENGES)} challenges x "
          f"{args.games} test games, walkthroughs, {args.repeats} timed replays each")
    steps: dict[str, dict[str, list[float]]] = {name: {c: [] for c in CHALLENGES} for name in SYSTEMS}
    resets: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    for challenge in CHALLENGES:
        ours = {OURS: gym.make(f"TextWorld/{challenge}-v0", split="test", num_games=args.games),
                OURS_ADMISSIBLE: gym.make(f"TextWorld/{challenge}-v0", split="test", num_games=args.games,
                                          admissible_commands=True)}
        files = ours[OURS].unwrapped.prepare_games()  # generated once, then cached
        for variation, path in zip(ours[OURS].unwrapped.variations(), files, strict=True):
            envs = {**ours, NATIVE: native_env(str(path), admissible=False),
                    NATIVE_ADMISSIBLE: native_env(str(path), admissible=True)}
            actions = winning_prefix(ours[OURS], variation)
            for repeat in range(args.repeats + 1):  # the first round is a warm-up
                turn = repeat % len(SYSTEMS)  # who goes first changes every replay
                for name in SYSTEMS[turn:] + SYSTEMS[:turn]:
                    reset_s, step_s = replay(envs[name], variation, actions)
                    if repeat:
                        resets[name].append(reset_s)
                        steps[name][challenge].extend(step_s)
            envs[NATIVE].close()
            envs[NATIVE_ADMISSIBLE].close()
        for env in ours.values():
            env.close()
    report(steps, resets)


def report(steps: dict[str, dict[str, list[float]]], resets: dict[str, list[float]]) -> None:
    """Per-challenge medians, then the medians and means over every step, relative to textworld.gym."""
    challenges = list(steps[NATIVE])
    print(f"\n{'median microseconds per step':<30}" + "".join(f"{c:>16}" for c in challenges))
    for name in SYSTEMS:
        medians = (1e6 * statistics.median(steps[name][c]) for c in challenges)
        print(f"{name:<30}" + "".join(f"{m:>16.0f}" for m in medians))
    every = {name: [s for c in challenges for s in steps[name][c]] for name in SYSTEMS}
    median = {name: statistics.median(every[name]) for name in SYSTEMS}
    mean = {name: statistics.fmean(every[name]) for name in SYSTEMS}
    print(f"\n{'all steps':<30}{'steps':>7}{'median us':>11}{'vs native':>11}{'mean us':>9}{'vs native':>11}")
    for name in SYSTEMS:
        native = NATIVE_ADMISSIBLE if "admissible" in name else NATIVE
        print(f"{name:<30}{len(every[name]):>7}{1e6 * median[name]:>11.0f}"
              f"{median[name] / median[native]:>10.2f}x{1e6 * mean[name]:>9.0f}"
              f"{mean[name] / mean[native]:>10.2f}x")
    for ours, native in ((OURS, NATIVE), (OURS_ADMISSIBLE, NATIVE_ADMISSIBLE)):
        overhead = 100 * (median[ours] / median[native] - 1)
        print(f"\n{ours} step overhead over {native} (median): {overhead:+.1f}% (target: <= +10%)", end="")
    native_ms, ours_ms = (1000 * statistics.median(resets[name]) for name in (NATIVE, OURS))
    print(f"\nnew episode (median of {len(resets[OURS])}): textworld.gym {native_ms:.1f} ms, "
          f"textgym {ours_ms:.1f} ms")


if __name__ == "__main__":
    main()
