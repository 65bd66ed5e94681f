"""Timing shared by the step benchmarks."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any


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
