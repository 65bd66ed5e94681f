"""Shuffled batches of similar lengths (less padding), for the LM trainers."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence


def length_grouped_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> list[list[int]]:
    """One epoch of index batches: shuffled, sorted by length within windows of 32 batches, and the
    batches shuffled again.

    >>> length_grouped_batches([5, 1, 4, 2], 2, random.Random(0))
    [[1, 3], [2, 0]]
    """
    order = list(range(len(lengths)))
    rng.shuffle(order)
    window = batch_size * 32
    chunks = []
    for start in range(0, len(order), window):
        block = sorted(order[start:start + window], key=lambda i: lengths[i])
        chunks += [block[i:i + batch_size] for i in range(0, len(block), batch_size)]
    rng.shuffle(chunks)
    return chunks


def endless_batches(lengths: Sequence[int], batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """`length_grouped_batches`, epoch after epoch."""
    while True:
        yield from length_grouped_batches(lengths, batch_size, rng)
