"""Shared checks, so every bad value gets the same clear message: number settings of envs,
wrappers and agents (`True`, which Python counts as 1, is refused), and the commands every env
family accepts."""

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


def check_non_negative(name: str, value: Any) -> float:
    """`value` as a float if it is a number >= 0 (a temperature, say), else a `ValueError` naming `name`.

    >>> check_non_negative("temperature", 0)
    0.0
    >>> check_non_negative("temperature", -1)
    Traceback (most recent call last):
    ...
    ValueError: temperature must be a number >= 0, got -1.
    """
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or not value >= 0:
        raise ValueError(f"{name} must be a number >= 0, got {value!r}.")
    return float(value)


def check_command(action: Any, charset: frozenset[str], max_length: int) -> str:
    """`action` as a str if it is a non-empty command of at most `max_length` characters of
    `charset`, else a `TypeError` or `ValueError` that says what is wrong.

    >>> check_command("look around", frozenset("abcdefghijklmnopqrstuvwxyz "), 64)
    'look around'
    >>> check_command("look around\\nreset task", frozenset("abcdefghijklmnopqrstuvwxyz "), 64)
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Action 'look around\\nreset task' contains a newline or other control character ['\\n']: ...
    """
    if not isinstance(action, str):  # np.str_ is a str
        raise TypeError(f"Actions are text commands (str), got {type(action).__name__}: {action!r:.80}")
    if not action:
        raise ValueError("Empty action: send a command such as 'look around'.")
    if len(action) > max_length:
        raise ValueError(f"Action of {len(action)} characters; the action space allows at most {max_length}.")
    if not charset.issuperset(action):
        bad = sorted(set(action) - charset)
        if any(not char.isprintable() for char in bad):
            raise ValueError(f"Action {action!r:.80} contains a newline or other control character "
                             f"{bad!r}: send one command per step, on one line.")
        raise ValueError(f"Action {action!r:.80} has characters outside the action space "
                         f"(printable ASCII): {bad!r}.")
    return str(action)
