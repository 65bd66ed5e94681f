"""What the step benchmarks share: the commands to replay, and a timer for replaying them."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym


def winning_prefix(env: gym.Env, variation: int) -> list[str]:
    """The gold path up to (and including) the command that ends the episode."""
    env.reset(options={"variation": variation})
    actions = []
    for action in env.unwrapped.gold_path():
        actions.append(action)
        if env.step(action)[2]:
            break
    return actions


def time_replay(reset: Callable[[], Any], step: Callable[[str], Any],
                actions: Sequence[str]) -> tuple[float, list[float]]:
    """Seconds for `reset()`, and for each `step(action)` of `actions`, each timed on its own."""
    started = time.perf_counter()
    reset()
    reset_s, step_s = time.perf_counter() - started, []
    for action in actions:
        started = time.perf_counter()
        step(action)
        step_s.append(time.perf_counter() - started)
    return reset_s, step_s
