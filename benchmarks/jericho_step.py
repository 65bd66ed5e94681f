"""Jericho speed: textgym's `Jericho/custom-v0` against Jericho's own `FrotzEnv`, in one run.

No classic game may be shipped, so the games are TextWorld's: the first `--games` test games of
each challenge (default settings), which Jericho supports (score, moves, game end). Both systems
replay the same commands, each game's walkthrough up to the win: (a) `jericho.FrotzEnv.step` on
a `tw-` named copy (how Jericho recognises TextWorld games) and (b) textgym through `gym.make`,
so with Gymnasium's checker, order and time-limit wrappers and textgym's command checks. They take
turns on every replay, after one untimed round, so load on the machine hits them alike. Each step
is timed on its own; the figure is the step rate (1 / median step time) of textgym over
FrotzEnv's, per game, with the worst game next to the rate over all steps. Valid-action detection
is not compared: Jericho's own needs bindings, which it has for none of these games, and spaCy's
downloaded model.

    python benchmarks/jericho_step.py [--games 2] [--repeats 10]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import tempfile
import warnings
from pathlib import Path

import gymnasium as gym
import jericho
from timing import time_replay, winning_prefix

import textgym
from textgym.envs.textworld_games import CHALLENGES, ensure_games, resolve_settings, split_seeds

NATIVE, OURS = SYSTEMS = ("jericho.FrotzEnv", "textgym")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--games", type=int, default=2, help="test games per TextWorld challenge")
    parser.add_argument("--repeats", type=int, default=10, help="timed replays per game")
    args = parser.parse_args()
    print(f"textgym {textgym.__version__}, jericho {jericho.__version__}; {len(CHALLENGES)} TextWorld "
          f"challenges x {args.games} test games, walkthroughs to the win, {args.repeats} timed replays each")
    steps: dict[str, dict[str, list[float]]] = {name: {} for name in SYSTEMS}
    with tempfile.TemporaryDirectory() as folder, warnings.catch_warnings():
        warnings.simplefilter("ignore", jericho.UnsupportedGameWarning)
        for challenge in CHALLENGES:
            seeds = list(split_seeds(args.games)["test"])
            files = ensure_games(challenge, resolve_settings(challenge, {}), seeds)
            for seed, path in files.items():
                game = f"{challenge}-{seed}"
                copy = Path(folder) / f"tw-{game}.z8"
                shutil.copy(path, copy)
                ours = gym.make("Jericho/custom-v0", game_file=str(path), max_episode_steps=10**6)
                native = jericho.FrotzEnv(str(copy), seed=1)
                actions = winning_prefix(ours, 0)
                resets = {OURS: lambda env=ours: env.reset(seed=0), NATIVE: native.reset}
                stepping = {OURS: ours.step, NATIVE: native.step}
                for name in SYSTEMS:
                    steps[name][game] = []
                for repeat in range(args.repeats + 1):  # the first round is a warm-up
                    order = SYSTEMS if repeat % 2 else SYSTEMS[::-1]
                    for name in order:
                        _, step_s = time_replay(resets[name], stepping[name], actions)
                        if repeat:
                            steps[name][game].extend(step_s)
                ours.close()
    report(steps)


def report(steps: dict[str, dict[str, list[float]]]) -> None:
    games = list(steps[NATIVE])
    rate = {name: {g: 1 / statistics.median(steps[name][g]) for g in games} for name in SYSTEMS}
    ratio = {g: rate[OURS][g] / rate[NATIVE][g] for g in games}
    print(f"\n{'game':<22}{'steps':>7}{'FrotzEnv steps/s':>18}{'textgym steps/s':>17}{'ratio':>8}")
    for g in games:
        print(f"{g:<22}{len(steps[OURS][g]):>7}{rate[NATIVE][g]:>18.0f}{rate[OURS][g]:>17.0f}{ratio[g]:>7.2f}x")
    every = {name: [s for g in games for s in steps[name][g]] for name in SYSTEMS}
    overall = {name: 1 / statistics.median(every[name]) for name in SYSTEMS}
    worst = min(games, key=ratio.get)
    print(f"\nall {len(every[OURS])} steps: FrotzEnv {overall[NATIVE]:.0f} steps/s, "
          f"textgym {overall[OURS]:.0f} steps/s, ratio {overall[OURS] / overall[NATIVE]:.2f}x (median step "
          f"time); worst game {worst} {ratio[worst]:.2f}x, best {max(ratio.values()):.2f}x")


if __name__ == "__main__":
    main()
