"""ScienceWorld JVM memory: resident size against the heap cap (`jvm_heap`), and speed, in one run.

One env per heap cap on `ScienceWorld/chemistry-mix-v0` (train split, admissible commands on),
stepped round-robin (so the caps share the machine's load alike) with seeded random admissible
commands, episodes reset as they end. Prints each JVM's resident memory (VmRSS) at checkpoints,
its peak, and its steps/s.

    python benchmarks/scienceworld_memory.py [--steps 3000] [--heaps 256m,384m,512m,1g]
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from textgym.envs.scienceworld import ScienceWorldEnv


def rss_mb(pid: int) -> float:
    with open(f"/proc/{pid}/status") as status:
        kb = next(int(line.split()[1]) for line in status if line.startswith("VmRSS"))
    return kb / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=3000, help="random admissible steps per heap cap")
    parser.add_argument("--heaps", default="256m,384m,512m,1g", help="comma list of jvm_heap values")
    parser.add_argument("--task", default="chemistry-mix")
    args = parser.parse_args()
    heaps = args.heaps.split(",")
    envs = {heap: ScienceWorldEnv(args.task, split="train", admissible_commands=True, jvm_heap=heap)
            for heap in heaps}
    rngs = {heap: np.random.default_rng(0) for heap in heaps}
    infos = {heap: env.reset(seed=0)[1] for heap, env in envs.items()}
    seconds = dict.fromkeys(heaps, 0.0)
    peak = {heap: rss_mb(env.pid) for heap, env in envs.items()}
    checkpoints = sorted({min(500, args.steps), args.steps // 2, args.steps})
    rows = []
    try:
        for step in range(1, args.steps + 1):
            for heap, env in envs.items():
                commands = infos[heap]["admissible_commands"]
                started = time.perf_counter()
                action = commands[rngs[heap].integers(len(commands))]
                _, _, terminated, truncated, infos[heap] = env.step(action)
                if terminated or truncated:
                    infos[heap] = env.reset()[1]
                seconds[heap] += time.perf_counter() - started
                peak[heap] = max(peak[heap], rss_mb(env.pid))
            if step in checkpoints:
                rows.append((step, {heap: rss_mb(env.pid) for heap, env in envs.items()}))
    finally:
        for env in envs.values():
            env.close()
    print(f"{args.task}, train split, random admissible steps (episodes of at most 100 commands)")
    header = "".join(f"{'RSS@' + str(step):>10}" for step, _ in rows)
    print(f"{'heap cap':<10}{header}{'peak MB':>9}{'steps/s':>9}")
    for heap in heaps:
        print(f"{heap:<10}" + "".join(f"{r[heap]:>10.0f}" for _, r in rows)
              + f"{peak[heap]:>9.0f}{args.steps / seconds[heap]:>9.2f}")


if __name__ == "__main__":
    main()
