"""ScienceWorld speed: textgym against the stock `scienceworld.ScienceWorldEnv`, per task, in one run.

For each task, replays the gold path of its first test variation through (a) stock
`ScienceWorldEnv.step` (look, inventory, task text and the valid-command list on every step),
(b) textgym without admissible commands ("plain") and (c) textgym with `admissible_commands=True`,
each in a fresh JVM. Replay 1 is *cold* (the first episode in a new JVM: class loading and JIT
warm-up); replays 2.. are *warm* (their median; at least `--replays`, and 60 steps in all). The
systems take turns replay by replay, in a rotating order, so they share the machine's load alike.
Prints per-task ms/step and the ratios stock/textgym (above 1 = textgym faster), then the minimum
over tasks next to the aggregate (total stock time / total textgym time) and the geometric mean.

`--identity-hashes` adds (b) and (c) in JVMs with HotSpot's default identity hash codes instead of
textgym's deterministic `-XX:hashCode=2`, and prints what determinism costs per task (ms/step with
hashCode=2 / ms/step without), with and without admissible commands.

Each task's result is appended to `--results` (JSON lines; default in textgym's cache dir) as
soon as it is measured, and tasks already there are skipped, so an interrupted run resumes;
`--report` prints the table only.

    python benchmarks/scienceworld_step.py [--tasks boil,melt | --tasks 6] [--replays 3]
        [--simplification none] [--results FILE.jsonl] [--identity-hashes]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import statistics
import time
from collections.abc import Iterator
from pathlib import Path

from scienceworld import ScienceWorldEnv as StockEnv
from timing import winning_prefix

import textgym
from textgym.cache import cache_dir
from textgym.envs.jvm import JAVA_OPTS_VARIABLE
from textgym.envs.scienceworld import TASKS, ScienceWorldEnv

SYSTEMS = ("stock", "plain", "admissible", "plain, JVM hashes", "admissible, JVM hashes")
LABELS = {"plain": "plain", "admissible": "+adm"}
MIN_WARM_STEPS = 60


@contextlib.contextmanager
def identity_hashes(on: bool) -> Iterator[None]:
    """Start JVMs inside with HotSpot's default identity hash codes (a later flag wins)."""
    previous = os.environ.get(JAVA_OPTS_VARIABLE)
    if on:
        os.environ[JAVA_OPTS_VARIABLE] = f"{previous or ''} -XX:hashCode=5"
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(JAVA_OPTS_VARIABLE, None)
        else:
            os.environ[JAVA_OPTS_VARIABLE] = previous


def replay(env: ScienceWorldEnv | StockEnv, task: str, variation: int, simplification: str,
           actions: list[str]) -> float:
    """Milliseconds per step for stepping `actions` after a new episode (not counted). An episode
    may end early where events differ (without deterministic hashes, or where admissible commands
    draw the simulator's random generator): then it is the mean over the steps taken."""
    if isinstance(env, StockEnv):
        env.load(task, variation, simplification)
        env.reset()
    else:
        with identity_hashes(getattr(env, "identity_hashes", False)):
            env.reset(options={"variation": variation})  # the first reset starts the JVM
    started = time.perf_counter()
    steps = 0
    for action in actions:
        steps += 1
        if env.step(action)[2]:
            break
    return 1000 * (time.perf_counter() - started) / steps


def measure(task: str, replays: int, simplification: str, with_identity_hashes: bool) -> dict:
    """ms/step of each system on `task`: the cold replay and the median of the warm ones (at least
    `replays`, and enough for MIN_WARM_STEPS steps, so a 3-step gold path is timed long enough)."""
    probe = ScienceWorldEnv(task, split="test", simplification=simplification or None)
    variation = probe.variations()[0]
    actions = winning_prefix(probe, variation)
    probe.close()
    envs: dict[str, ScienceWorldEnv | StockEnv] = {"stock": StockEnv(envStepLimit=10**6)}
    for name in SYSTEMS[1:] if with_identity_hashes else SYSTEMS[1:3]:
        envs[name] = ScienceWorldEnv(task, split="test", simplification=simplification or None,
                                     admissible_commands=name.startswith("admissible"))
        envs[name].identity_hashes = name.endswith("JVM hashes")
    per_step: dict[str, list[float]] = {name: [] for name in envs}
    try:
        names = list(envs)
        for index in range(1 + max(replays, math.ceil(MIN_WARM_STEPS / len(actions)))):
            # who goes first rotates, so no system always follows another
            for name in names[index % len(names):] + names[:index % len(names)]:
                per_step[name].append(replay(envs[name], task, variation, simplification, actions))
    finally:
        for env in envs.values():
            env.close()
    return {"task": task, "steps": len(actions), "simplification": simplification,
            "cold_ms": {name: values[0] for name, values in per_step.items()},
            "warm_ms": {name: statistics.median(values[1:]) for name, values in per_step.items()}}


def geometric_mean(values: list[float]) -> float:
    return math.exp(sum(map(math.log, values)) / len(values))


def report(rows: list[dict]) -> None:
    """The ratio table (per task, aggregate, geometric mean, minimum) and determinism's price."""
    systems = [s for s in ("plain", "admissible") if all(s in row["cold_ms"] for row in rows)]
    head = "".join(f"{LABELS[s] + ' ' + phase:>13}" for s in systems for phase in ("cold", "warm"))
    print(f"\nratio = stock ms/step / textgym ms/step (above 1: textgym faster)\n"
          f"{'task':<50}{'steps':>6}{'stock ms cold':>14}{'warm':>6}{'+adm ms cold':>13}{'warm':>6}{head}")
    ratios: dict[tuple[str, str], list[float]] = {(s, p): [] for s in systems for p in ("cold", "warm")}
    for row in rows:
        cells = ""
        for system in systems:
            for phase in ("cold", "warm"):
                ratio = row[f"{phase}_ms"]["stock"] / row[f"{phase}_ms"][system]
                ratios[system, phase].append(ratio)
                cells += f"{ratio:>12.2f}x"
        print(f"{row['task']:<50}{row['steps']:>6}{row['cold_ms']['stock']:>14.0f}{row['warm_ms']['stock']:>6.0f}"
              f"{row['cold_ms']['admissible']:>13.0f}{row['warm_ms']['admissible']:>6.0f}{cells}")
    width = 50 + 6 + 14 + 6 + 13 + 6
    aggregate, minimum, geomean = "", "", ""
    for system in systems:
        for phase in ("cold", "warm"):
            stock = sum(row[f"{phase}_ms"]["stock"] * row["steps"] for row in rows)
            ours = sum(row[f"{phase}_ms"][system] * row["steps"] for row in rows)
            values = ratios[system, phase]
            aggregate += f"{stock / ours:>12.2f}x"
            geomean += f"{geometric_mean(values):>12.2f}x"
            worst = min(range(len(rows)), key=values.__getitem__)
            minimum += f"{values[worst]:>12.2f}x"
    print(f"{f'aggregate over {len(rows)} tasks (total time)':<{width}}{aggregate}")
    print(f"{'geometric mean of the per-task ratios':<{width}}{geomean}")
    print(f"{'minimum over tasks':<{width}}{minimum}")
    for system in systems:
        for phase in ("cold", "warm"):
            values = ratios[system, phase]
            worst = min(range(len(rows)), key=values.__getitem__)
            print(f"  worst {LABELS[system]} {phase}: {rows[worst]['task']} {values[worst]:.2f}x")
    priced = [row for row in rows if all(f"{s}, JVM hashes" in row["warm_ms"] for s in systems)]
    if priced:
        print(f"\ndeterminism's price = ms/step with -XX:hashCode=2 / ms/step with the JVM's default hashes "
              f"(above 1: determinism costs)\n{'task':<50}"
              + "".join(f"{LABELS[s] + ' ' + p:>13}" for s in systems for p in ("cold", "warm")))
        prices: dict[tuple[str, str], list[float]] = {(s, p): [] for s in systems for p in ("cold", "warm")}
        for row in priced:
            cells = ""
            for system in systems:
                for phase in ("cold", "warm"):
                    price = row[f"{phase}_ms"][system] / row[f"{phase}_ms"][f"{system}, JVM hashes"]
                    prices[system, phase].append(price)
                    cells += f"{price:>12.2f}x"
            print(f"{row['task']:<50}{cells}")
        print(f"{f'geometric mean over {len(priced)} tasks':<50}"
              + "".join(f"{geometric_mean(values):>12.2f}x" for values in prices.values()))
        print(f"{'largest':<50}" + "".join(f"{max(values):>12.2f}x" for values in prices.values()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="30",
                        help="a number (every n-th of the 30) or a comma list of names")
    parser.add_argument("--replays", type=int, default=3, help="warm replays per task, after the cold one")
    parser.add_argument("--simplification", default="none", help="'none' (stock's default) or 'easy'")
    parser.add_argument("--results", type=Path,
                        default=cache_dir() / "benchmarks" / "scienceworld_step-v2.jsonl",
                        help="JSON-lines file that results are appended to and resumed from")
    parser.add_argument("--identity-hashes", action="store_true",
                        help="also measure textgym (plain and + admissible) without deterministic hash codes")
    parser.add_argument("--report", action="store_true", help="only print the table of --results")
    args = parser.parse_args()
    names = list(TASKS)
    if args.tasks.isdigit():
        tasks = names[:: max(1, len(names) // int(args.tasks))][: int(args.tasks)]
    else:
        tasks = [textgym.envs.scienceworld.resolve_task(task) for task in args.tasks.split(",")]
    simplification = "" if args.simplification == "none" else args.simplification
    done = {}
    args.results.parent.mkdir(parents=True, exist_ok=True)
    if args.results.exists():
        for line in args.results.read_text().splitlines():
            row = json.loads(line)
            if row["simplification"] == simplification:
                done[row["task"]] = row
    print(f"textgym {textgym.__version__}, scienceworld {textgym.SCIENCEWORLD_VERSION}; {len(tasks)} tasks, "
          f"first test variation, simplification {args.simplification}, gold paths; 1 cold + "
          f"{args.replays} warm replays; {os.cpu_count()} CPUs; results in {args.results}")
    for task in tasks:
        if args.report or task in done:
            continue
        row = measure(task, args.replays, simplification, args.identity_hashes)
        done[task] = row
        with args.results.open("a") as handle:
            handle.write(json.dumps(row) + "\n")
        print(f"  {task}: {row['steps']} steps, ms/step cold/warm: stock {row['cold_ms']['stock']:.0f}/"
              f"{row['warm_ms']['stock']:.0f}, textgym + admissible {row['cold_ms']['admissible']:.0f}/"
              f"{row['warm_ms']['admissible']:.0f}", flush=True)
    rows = [done[task] for task in tasks if task in done]
    if rows:
        report(rows)


if __name__ == "__main__":
    main()
