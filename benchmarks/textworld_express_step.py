"""TextWorldExpress speed: textgym against the stock `textworld_express.TextWorldExpressEnv`, in one run.

Replays the same commands, the winning gold path of the first `--seeds` test games of each of
the 8 games (default parameters), through (a) the stock env's `step`, (b) textgym through
`gym.make` (so with Gymnasium's checker, order and time-limit wrappers) and (c) the same with
admissible commands in `info`. The systems take turns on every replay, so load on the machine
hits them alike, after `--warmup` untimed steps each (every textgym env has a JVM of its own,
whose JIT needs a few thousand steps to compile the step path). Each step is timed on its own; the
overhead is the ratio of the median step times (a shared machine's scheduling noise is
heavy-tailed; the means are printed too). The target is at most +10%.

    python benchmarks/textworld_express_step.py [--seeds 3] [--repeats 10]
"""

from __future__ import annotations

import argparse
import statistics

import gymnasium as gym
from textworld_express import TextWorldExpressEnv as StockEnv
from timing import time_replay, winning_prefix

import textgym
from textgym.envs.textworld_express import GAMES, SEEDS, TEXTWORLD_EXPRESS_VERSION

SYSTEMS = ("stock step", "textgym", "textgym + admissible")


def replay(env: gym.Env | StockEnv, seed: int, actions: list[str]) -> tuple[float, list[float]]:
    """Seconds for a new episode, and for each step of `actions`."""
    if isinstance(env, StockEnv):
        return time_replay(lambda: env.reset(seed=seed, gameFold="test"), env.step, actions)
    return time_replay(lambda: env.reset(options={"variation": seed}), env.step, actions)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=3, help="test games per game")
    parser.add_argument("--repeats", type=int, default=10, help="timed replays per test game")
    parser.add_argument("--warmup", type=int, default=3000, help="untimed steps per system and game first")
    args = parser.parse_args()
    print(f"textgym {textgym.__version__}, textworld-express {TEXTWORLD_EXPRESS_VERSION}; {len(GAMES)} games "
          f"x {args.seeds} test seeds, winning gold paths, {args.repeats} timed replays each")
    steps: dict[str, dict[str, list[float]]] = {name: {game: [] for game in GAMES} for name in SYSTEMS}
    resets: dict[str, list[float]] = {name: [] for name in SYSTEMS}
    stock = StockEnv(envStepLimit=10**6)
    try:
        for game in GAMES:
            stock.load(game, "")  # the library's defaults, as textgym's
            envs = {"stock step": stock,
                    "textgym": gym.make(f"TextWorldExpress/{game}-v0", split="test"),
                    "textgym + admissible": gym.make(f"TextWorldExpress/{game}-v0", split="test",
                                                     admissible_commands=True)}
            paths = {seed: winning_prefix(envs["textgym"], seed) for seed in SEEDS["test"][: args.seeds]}
            for name in SYSTEMS:  # each textgym env has a JVM of its own, cold: let its JIT compile the step
                warm = 0
                while warm < args.warmup:
                    warm += sum(len(replay(envs[name], seed, actions)[1]) for seed, actions in paths.items())
            for repeat in range(args.repeats):
                for seed, actions in paths.items():
                    turn = (repeat + seed) % len(SYSTEMS)  # who goes first changes every replay
                    for name in SYSTEMS[turn:] + SYSTEMS[:turn]:
                        reset_s, step_s = replay(envs[name], seed, actions)
                        resets[name].append(reset_s)
                        steps[name][game].extend(step_s)
            envs["textgym"].close()
            envs["textgym + admissible"].close()
    finally:
        stock.close()
    report(steps, resets)


def report(steps: dict[str, dict[str, list[float]]], resets: dict[str, list[float]]) -> None:
    """Per-game medians, then the medians and means over every step, relative to the stock env."""
    games = list(steps["stock step"])
    print("\nmedian microseconds per step" + "".join(f"{game:>13}" for game in games))
    for name in SYSTEMS:
        print(f"{name:<28}" + "".join(f"{1e6 * statistics.median(steps[name][g]):>13.0f}" for g in games))
    every = {name: [s for game in games for s in steps[name][game]] for name in SYSTEMS}
    median = {name: statistics.median(every[name]) for name in SYSTEMS}
    mean = {name: statistics.fmean(every[name]) for name in SYSTEMS}
    print(f"\n{'all steps':<24}{'steps':>7}{'median us':>11}{'vs stock':>10}{'mean us':>9}{'vs stock':>10}"
          f"{'steps/s':>9}")
    for name in SYSTEMS:
        print(f"{name:<24}{len(every[name]):>7}{1e6 * median[name]:>11.0f}"
              f"{median[name] / median['stock step']:>9.2f}x{1e6 * mean[name]:>9.0f}"
              f"{mean[name] / mean['stock step']:>9.2f}x{1 / mean[name]:>9.0f}")
    overhead = 100 * (median["textgym"] / median["stock step"] - 1)
    print(f"\ntextgym step overhead over the stock env (median): {overhead:+.1f}% (target: <= +10%)")
    stock_ms, ours_ms = (1000 * statistics.median(resets[name]) for name in ("stock step", "textgym"))
    print(f"new episode (median of {len(resets['textgym'])}): stock {stock_ms:.2f} ms, "
          f"textgym {ours_ms:.2f} ms")


if __name__ == "__main__":
    main()
