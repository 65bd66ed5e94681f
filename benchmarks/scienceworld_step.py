"""ScienceWorld speed: textgym's bridge against the stock `scienceworld.ScienceWorldEnv`, in one run.

Replays the gold paths of the first test variation of `--tasks` tasks (easy simplification)
through (a) stock `ScienceWorldEnv.step`, (b) textgym without admissible commands and (c) textgym
with admissible commands on every step, and prints steps/s and the ratios. Also measured in the
same run: the cost of a new episode in a live env against the simulator's own load+reset, the
JVM's resident memory, and async vector-env throughput with 2 workers against 1.

    python benchmarks/scienceworld_step.py [--tasks 12] [--repeats 2]
"""

from __future__ import annotations

import argparse
import statistics
import time

import gymnasium as gym
from scienceworld import ScienceWorldEnv as StockEnv
from timing import winning_prefix

import textgym
from textgym.envs.jvm import DEFAULT_HEAP
from textgym.envs.scienceworld import TASKS, ScienceWorldEnv


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return kb / 1024


def replay(env: ScienceWorldEnv | StockEnv, task: str, variation: int,
           actions: list[str]) -> tuple[float, float]:
    """Seconds for a new episode and for stepping `actions` (the stock env loads then resets)."""
    started = time.perf_counter()
    if isinstance(env, StockEnv):
        env.load(task, variation, "easy")
        env.reset()
    else:
        env.reset(options={"variation": variation})
    stepping = time.perf_counter()
    for action in actions:
        env.step(action)
    return stepping - started, time.perf_counter() - stepping


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=12, help="how many tasks (every n-th of the 30)")
    parser.add_argument("--repeats", type=int, default=2, help="timed replays per task (after a warm-up)")
    args = parser.parse_args()
    names = list(TASKS)
    tasks = names[:: max(1, len(names) // args.tasks)][: args.tasks]
    print(f"textgym {textgym.__version__}, scienceworld {textgym.SCIENCEWORLD_VERSION}; {len(tasks)} tasks, "
          f"first test variation, easy simplification, gold paths, {args.repeats} timed replays each")
    systems = ("stock step", "textgym", "textgym + admissible")
    steps = dict.fromkeys(systems, 0)
    seconds = dict.fromkeys(systems, 0.0)
    new_episode: dict[str, list[float]] = {"stock": [], "textgym": []}
    rss: dict[str, float] = {}
    stock = StockEnv(envStepLimit=10**6)
    try:
        for task in tasks:
            envs = {"stock step": stock, "textgym": ScienceWorldEnv(task, split="test"),
                    "textgym + admissible": ScienceWorldEnv(task, split="test", admissible_commands=True)}
            variation = envs["textgym"].variations()[0]
            actions = winning_prefix(envs["textgym"], variation)
            for name, env in envs.items():
                replay(env, task, variation, actions)  # warm-up: JIT, caches
                for _ in range(args.repeats):
                    reset_s, step_s = replay(env, task, variation, actions)
                    steps[name] += len(actions)
                    seconds[name] += step_s
                    if name != "textgym + admissible":
                        new_episode["stock" if env is stock else "textgym"].append(reset_s)
            rss["textgym"] = max(rss.get("textgym", 0), rss_mb(envs["textgym + admissible"].pid))
            envs["textgym"].close()
            envs["textgym + admissible"].close()
        rss["stock"] = rss_mb(stock._gateway.java_process.pid)
    finally:
        stock.close()

    stock_rate = steps["stock step"] / seconds["stock step"]
    print(f"\n{'':<24}{'steps':>8}{'steps/s':>10}{'ms/step':>9}{'vs stock':>10}")
    for name in systems:
        rate = steps[name] / seconds[name]
        print(f"{name:<24}{steps[name]:>8}{rate:>10.1f}{1000 / rate:>9.2f}{rate / stock_rate:>9.1f}x")
    stock_new, ours_new = statistics.median(new_episode["stock"]), statistics.median(new_episode["textgym"])
    print(f"\nnew episode in a live env (median): simulator load+reset {stock_new * 1000:.0f} ms, "
          f"textgym reset {ours_new * 1000:.0f} ms ({ours_new / stock_new:.2f}x)")
    print(f"JVM resident memory after a task's replays: textgym {rss['textgym']:.0f} MB per env "
          f"(heap cap {DEFAULT_HEAP}), stock {rss['stock']:.0f} MB after all tasks")
    vector_throughput(tasks[0])


def vector_throughput(task: str, rounds: int = 6, warmup: int = 4) -> None:
    """Steps/s of an async vector env with 1 and 2 workers replaying the same gold path, timed after
    `warmup` untimed replays (each worker's JVM is new, and its JIT compiler competes for the cores)."""
    env = ScienceWorldEnv(task, split="test")
    variation = env.variations()[0]
    actions = winning_prefix(env, variation)
    env.close()
    rates = {}
    for workers in (1, 2):
        vector = gym.make_vec(f"ScienceWorld/{task}-v0", num_envs=workers, vectorization_mode="async",
                              split="test", variation=variation)
        try:
            vector.reset(seed=0)
            started, steps = time.perf_counter(), 0
            for round_ in range(warmup + rounds):
                if round_ == warmup:
                    started, steps = time.perf_counter(), 0
                for action in actions:
                    vector.step((action,) * workers)
                    steps += workers
                vector.step(("look around",) * workers)  # the autoreset step after termination
            rates[workers] = steps / (time.perf_counter() - started)
        finally:
            vector.close()
    print(f"async vector env ({task}): 1 worker {rates[1]:.1f} steps/s, 2 workers {rates[2]:.1f} steps/s "
          f"({rates[2] / rates[1]:.2f}x)")


if __name__ == "__main__":
    main()
