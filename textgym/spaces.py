"""The text space every textgym env declares, and the helpers that keep text inside it.

`TextSpace` is a `gymnasium.spaces.Text` over printable ASCII. It exists for one reason:
Gymnasium's `AsyncVectorEnv` with its default `shared_memory=True` reads a `Text` buffer once, at
construction, into an immutable tuple of strings, so every later observation comes back as that
stale snapshot (all padding). `TextSpace` registers its own shared-memory reader that returns a
*live* view of the buffer, so `gym.make_vec(id, vectorization_mode="async")` returns the real
observations with Gymnasium's default settings. Encoding and decoding are vectorised with numpy.

    >>> space = TextSpace(max_length=32)
    >>> space.contains("open door to kitchen")
    True
    >>> to_printable("caf\\u00e9\\u2014au lait", max_length=32)
    'cafe-au lait'
"""

from __future__ import annotations

import string
import unicodedata
from collections.abc import Sequence
from typing import Any

import numpy as np
from gymnasium.spaces import Text
from gymnasium.vector.utils import read_from_shared_memory, write_to_shared_memory

PRINTABLE = string.printable
"""Characters allowed in observations: printable ASCII, including newline and tab."""
COMMAND_CHARSET = "".join(c for c in PRINTABLE if c == " " or c not in string.whitespace)
"""Characters allowed in commands: printable ASCII without newline, tab or other control
characters (a newline would send two commands in one step to a Z-machine or TextWorld game)."""

# Characters that `unicodedata.normalize("NFKD")` leaves non-ASCII but have an obvious ASCII form.
_ASCII_FALLBACKS = str.maketrans({"\u2014": "-", "\u2013": "-", "\u2018": "'", "\u2019": "'",
                                  "\u201c": '"', "\u201d": '"', "\u2026": "...", "\u00a0": " "})
_PRINTABLE_SET = frozenset(PRINTABLE)


class TextSpace(Text):
    """`Text` over printable ASCII (or a subset, `charset`) whose `AsyncVectorEnv` shared memory works
    (see module doc)."""

    def __init__(self, max_length: int, *, min_length: int = 0, charset: str = PRINTABLE,
                 seed: Any = None) -> None:
        super().__init__(max_length, min_length=min_length, charset=charset, seed=seed)
        # byte value -> index in the charset; bytes outside the charset map to the padding index.
        self._byte_to_index = np.full(256, len(self.character_list), dtype=np.int32)
        for index, char in enumerate(self.character_list):
            self._byte_to_index[ord(char)] = index
        self._index_to_byte = np.array([ord(c) for c in self.character_list] + [0], dtype=np.uint8)

    def encode(self, text: str) -> np.ndarray:
        """Charset indices of `text`, padded to `max_length` (Gymnasium's flattened form)."""
        out = np.full(self.max_length, len(self.character_list), dtype=np.int32)
        raw = np.frombuffer(text.encode("ascii", "replace"), dtype=np.uint8)
        out[: len(raw)] = self._byte_to_index[raw]
        return out

    def decode(self, indices: np.ndarray) -> str:
        """Inverse of `encode`: padding indices are dropped."""
        keep = indices[indices < len(self.character_list)]
        return self._index_to_byte[keep].tobytes().decode("ascii")



class LiveTextBatch(Sequence):
    """A read-only, live view of `n` texts in an `AsyncVectorEnv` shared-memory buffer.

    `AsyncVectorEnv(copy=True)` (the default) deep-copies it into a plain tuple of strings.
    """

    def __init__(self, space: TextSpace, buffer: np.ndarray) -> None:
        self._space = space
        self._buffer = buffer

    def __getitem__(self, index: int) -> str:  # type: ignore[override]
        if isinstance(index, slice):
            return tuple(self)[index]
        return self._space.decode(self._buffer[index])

    def __len__(self) -> int:
        return len(self._buffer)

    def __deepcopy__(self, memo: dict) -> tuple[str, ...]:
        return tuple(self)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and tuple(self) == tuple(other)

    def __repr__(self) -> str:
        return f"LiveTextBatch({tuple(self)!r})"


@read_from_shared_memory.register(TextSpace)
def _read_live_text(space: TextSpace, shared_memory: Any, n: int = 1) -> LiveTextBatch:
    buffer = np.frombuffer(shared_memory.get_obj(), dtype=np.int32).reshape(n, space.max_length)
    return LiveTextBatch(space, buffer)


@write_to_shared_memory.register(TextSpace)
def _write_text(space: TextSpace, index: int, value: str, shared_memory: Any) -> None:
    destination = np.frombuffer(shared_memory.get_obj(), dtype=np.int32)
    size = space.max_length
    destination[index * size : (index + 1) * size] = space.encode(value)


def to_printable(text: str, max_length: int) -> str:
    """Fold `text` into printable ASCII of at most `max_length` characters.

    Accents are stripped (NFKD), typographic punctuation becomes its ASCII twin, any other
    character outside the charset is dropped, and an over-long text is cut (keeping its start,
    where simulators put the answer to the command).
    """
    if not (text.isascii() and _PRINTABLE_SET.issuperset(text)):
        folded = unicodedata.normalize("NFKD", text.translate(_ASCII_FALLBACKS))
        text = "".join(c for c in folded if c in _PRINTABLE_SET)
    return text[:max_length]
