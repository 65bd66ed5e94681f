"""Checks for the number settings of envs, wrappers and agents, so every bad value gets the
same clear message (and `True`, which Python counts as 1, is refused)."""

from __future__ import annotations

import numbers
from typing import Any


def check_integer(name: str, value: Any, low: int = 0, high: int | None = None) -> int:
    """`value` as an int if it is a whole number in [low, high], else a `ValueError` naming `name`.

    >>> check_integer("num_beams", 5, low=1)
    5
    >>> check_integer("num_beams", True, low=1)
    Traceback (most recent call last):
    ...
    ValueError: num_beams must be a positive integer, got True.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < low \
            or (high is not None and value > high):
        if high is not None:
            expected = f"an integer in [{low}, {high}]"
        else:
            expected = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
        raise ValueError(f"{name} must be {expected}, got {value!r}.")
    return int(value)


def check_positive(name: str, value: Any, optional: bool = False) -> float:
    """`value` if it is a number above 0 (None too, when `optional`), else a `ValueError` naming `name`.

    >>> check_positive("lr", 1e-3)
    0.001
    >>> check_positive("lr", 0)
    Traceback (most recent call last):
    ...
    ValueError: lr must be positive, got 0.
    """
    if optional and value is None:
        return value
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value > 0:
        raise ValueError(f"{name} must be positive, got {value!r}.")
    return value
