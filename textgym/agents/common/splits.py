"""Test variations are for the final number only.

Every trainer trains on the train split and picks checkpoints, stops early or reports
training-time evaluations on the dev split; handing it test-split data or a test-split env for
any of that is refused with a clear error, here, in one place.

>>> refuse_test_split(["train", "dev"], "data/gold", "training")
>>> refuse_test_split(["train", "test"], "data/gold", "training")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: data/gold holds test-split episodes: training uses the train and dev splits only ...
"""

from __future__ import annotations

from collections.abc import Iterable

DATA_FIX = "build the data with `textgym data gold --split train` (or `--split dev`)"


def refuse_test_split(splits: Iterable[str], source: str, role: str, fix: str = DATA_FIX) -> None:
    """Raise if any of `splits` (of the data or envs in `source`) is the test split."""
    if "test" in set(splits):
        raise ValueError(f"{source} holds test-split episodes: {role} uses the train and dev splits only "
                         f"(test variations are for the final number); {fix}.")
