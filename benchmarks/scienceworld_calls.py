"""Where a ScienceWorld step's time goes, call by call: stock against textgym, cold and warm.

Replays the gold path of each task's first test variation (no simplification) and times every
call a step makes, in three JVMs:

- **stock**, `scienceworld.ScienceWorldEnv` as its `step` does it: the simulator step (+ score,
  completion, moves), the free look/inventory/task calls, the simulator's enumeration of the
  admissible commands (`getValidActionObjectCombinations`, which returns a Java list) and moving
  that list to Python (`list(...)`: one py4j round trip per command);
- **textgym, no helpers** (`TEXTGYM_JAVA_HELPER=0`: what a machine without a JDK runs): the same
  enumeration, and the list moved in pieces of under 8 KB (`JavaSimulator.joined`);
- **textgym**: the step, the admissible commands from `ScienceWorldBridge.validActions` (the
  enumeration and the move in one call, sorted and de-duplicated in Python), and what the
  Gymnasium env adds around them (checks, `info`), measured as `env.step` minus its two calls.

Replay 1 is cold (the first episode in a new JVM), the median of the others warm. Prints ms per
step for each part.

    python benchmarks/scienceworld_calls.py [--tasks 6 | --tasks boil,melt] [--replays 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable

from scienceworld import ScienceWorldEnv as StockEnv
from timing import winning_prefix

import textgym
from textgym.envs.jvm import HELPER_VARIABLE
from textgym.envs.scienceworld import TASKS, ScienceWorldEnv, resolve_task


def timed(parts: dict[str, float], name: str, call: Callable[[], object]) -> object:
    started = time.perf_counter()
    result = call()
    parts[name] = parts.get(name, 0.0) + time.perf_counter() - started
    return result


def per_step(parts: dict[str, float], steps: int) -> dict[str, float]:
    """Seconds in all -> milliseconds per step (over the steps taken: an episode whose events differ
    may end before the gold path does)."""
    return {part: 1000 * seconds / steps for part, seconds in parts.items()}


def stock_replay(env: StockEnv, task: str, variation: int, actions: list[str]) -> dict[str, float]:
    env.load(task, variation, "")
    env.reset()
    parts: dict[str, float] = {}
    server = env.server
    steps = 0
    for action in actions:
        steps += 1
        score, completed = timed(parts, "step", lambda a=action: (
            server.step(a), server.getScore(), server.getCompleted(), server.getNumMoves()))[1:3]
        timed(parts, "look, inventory, task", lambda: (env.look(), env.inventory(), env.taskdescription()))
        commands = timed(parts, "enumeration", server.getValidActionObjectCombinations)
        timed(parts, "move to Python", lambda c=commands: list(c))
        if completed or score < 0:
            break
    return per_step(parts, steps)


def unhelped_replay(env: ScienceWorldEnv, variation: int, actions: list[str]) -> dict[str, float]:
    env.reset(options={"variation": variation})
    parts: dict[str, float] = {}
    simulator = env._simulator
    steps = 0
    for action in actions:
        steps += 1
        transition = timed(parts, "step", lambda a=action: env._advance(a))
        with simulator.calls() as server:
            commands = timed(parts, "enumeration", server.getValidActionObjectCombinations)
            timed(parts, "move to Python", lambda c=commands: simulator.joined(c))
        if transition.won or transition.lost or transition.done:
            break
    return per_step(parts, steps)


def textgym_replay(env: ScienceWorldEnv, variation: int, actions: list[str]) -> dict[str, float]:
    env.reset(options={"variation": variation})
    parts: dict[str, float] = {}
    advance, valid = env._advance, env._valid_actions

    def counted_advance(action: str):
        return timed(parts, "step", lambda: advance(action))

    def counted_valid() -> list[str]:
        return timed(parts, "admissible commands", valid)

    env._advance, env._valid_actions = counted_advance, counted_valid
    try:
        steps = 0
        for action in actions:
            steps += 1
            if timed(parts, "env.step", lambda a=action: env.step(a))[2]:
                break
    finally:
        del env._advance, env._valid_actions
    parts["gym env around them"] = parts.pop("env.step") - parts["step"] - parts["admissible commands"]
    return per_step(parts, steps)


def measure(task: str, replays: int) -> dict[str, list[dict[str, float]]]:
    """ms/step of every part, per system, per replay."""
    probe = ScienceWorldEnv(task, split="test", simplification=None)
    variation = probe.variations()[0]
    actions = winning_prefix(probe, variation)
    probe.close()
    stock = StockEnv(envStepLimit=10**6)
    os.environ[HELPER_VARIABLE] = "0"
    try:
        unhelped = ScienceWorldEnv(task, split="test", simplification=None)
        unhelped.reset(options={"variation": variation})  # starts its JVM without the helpers
    finally:
        del os.environ[HELPER_VARIABLE]
    helped = ScienceWorldEnv(task, split="test", simplification=None, admissible_commands=True)
    runs: dict[str, list[dict[str, float]]] = {"stock": [], "textgym, no helpers": [], "textgym": []}
    try:
        for _ in range(1 + replays):
            runs["stock"].append(stock_replay(stock, task, variation, actions))
            runs["textgym, no helpers"].append(unhelped_replay(unhelped, variation, actions))
            runs["textgym"].append(textgym_replay(helped, variation, actions))
    finally:
        stock.close()
        unhelped.close()
        helped.close()
    return {"steps": len(actions), **runs}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", default="6", help="a number (every n-th of the 30) or a list of names")
    parser.add_argument("--replays", type=int, default=3, help="warm replays per task, after the cold one")
    args = parser.parse_args()
    names = list(TASKS)
    if args.tasks.isdigit():
        tasks = names[:: max(1, len(names) // int(args.tasks))][: int(args.tasks)]
    else:
        tasks = [resolve_task(task) for task in args.tasks.split(",")]
    print(f"textgym {textgym.__version__}, scienceworld {textgym.SCIENCEWORLD_VERSION}; gold path of the "
          f"first test variation, no simplification; ms per step, cold (first episode in a new JVM) / "
          f"warm (median of {args.replays}); {os.cpu_count()} CPUs")
    for task in tasks:
        result = measure(task, args.replays)
        print(f"\n{task} ({result.pop('steps')} steps)")
        for system, runs in result.items():
            warm_total = statistics.median(sum(run.values()) for run in runs[1:])
            print(f"  {system:<22}{'all':<24}{sum(runs[0].values()):>8.1f} / {warm_total:.1f}")
            for part in runs[0]:
                warm = statistics.median(run[part] for run in runs[1:])
                print(f"  {'':<22}{part:<24}{runs[0][part]:>8.1f} / {warm:.1f}")


if __name__ == "__main__":
    main()
