"""What CoLA's language model reads and writes: one prompt per env step, the command as its continuation.

A training sequence is `prompt + " " + command + EOS`, built from the step records of
`textgym data gold` (`textgym.data.records`). The prompt is plain text, so the same format
works with our word tokenizer, SmolLM2's BPE or any Hugging Face tokenizer:

    >>> fmt = PromptFormat(observation_words=6)
    >>> fmt.prompt("Boil water.", ["go to kitchen"], "This room is called the kitchen. In it, you see:")
    'task: Boil water. | done: go to kitchen | observation: This room is called the kitchen. | action:'

Each field has a word budget (the task, the last few commands, the start of the observation,
where simulators put the answer), so prompts stay short enough for small models on a CPU.
"""

from __future__ import annotations

import random
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from textgym.data.records import episodes
from textgym.validation import check_integer


@dataclass(frozen=True)
class PromptFormat:
    """Word budgets of the prompt fields.

    Attributes:
        task_words: words of the task description kept.
        history: previous commands shown (the most recent ones).
        observation_words: words of the observation kept (its start).
    """

    task_words: int = 48
    history: int = 4
    observation_words: int = 80

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            check_integer(f"PromptFormat.{name}", value)

    def prompt(self, task: str, history: Sequence[str], observation: str) -> str:
        """The prompt for the next command, given the task, the commands so far and the observation."""
        recent = list(history)[-self.history:] if self.history else []
        done = " ; ".join(recent) if recent else "nothing"
        return (f"task: {_first_words(task, self.task_words)} | done: {done} | "
                f"observation: {_first_words(observation, self.observation_words)} | action:")

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def _first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


@dataclass(frozen=True)
class Example:
    """One env step of a trajectory: the prompt the agent saw and the command it sent."""

    prompt: str
    command: str
    env_id: str
    variation: int


def examples(records: Iterable[Mapping[str, Any]], fmt: PromptFormat) -> list[Example]:
    """Prompt/command pairs from step records (any iterable of `GoldStep`-like rows)."""
    out = []
    for episode in episodes(records):
        history: list[str] = []
        for row in episode:
            out.append(Example(fmt.prompt(row["task_description"], history, row["observation"]),
                               row["action"], row["env_id"], int(row["variation"])))
            history.append(row["action"])
    if not out:
        raise ValueError("No step records: build them with `textgym data gold`.")
    return out


def load_examples(path: str, fmt: PromptFormat, role: str = "training") -> list[Example]:
    """Examples from a dataset directory written by `textgym data gold` (never the test split)."""
    from textgym.agents.common.splits import refuse_test_split
    from textgym.data.records import load_steps

    records = list(load_steps(path))
    refuse_test_split((row.get("split", "") for row in records), path, role)
    return examples(records, fmt)


def split_episodes(items: Sequence[Example], held_out: float,
                   seed: int = 0) -> tuple[list[Example], list[Example]]:
    """(train, held-out) with whole episodes held out, so held-out prompts are really unseen."""
    keys = sorted({(e.env_id, e.variation) for e in items})
    random.Random(seed).shuffle(keys)
    chosen = set(keys[: round(held_out * len(keys))])
    return [e for e in items if (e.env_id, e.variation) not in chosen], [
        e for e in items if (e.env_id, e.variation) in chosen]


def encode_prompt(tokenizer: Any, prompt: str, max_tokens: int) -> list[int]:
    """Token ids of a prompt, keeping its last `max_tokens` (the observation and `action:`)."""
    ids = tokenizer(prompt, add_special_tokens=False)["input_ids"]
    return ids[-max_tokens:] if max_tokens else []


def encode_example(tokenizer: Any, example: Example, max_context: int,
                   max_command_tokens: int) -> tuple[list[int], int]:
    """(ids of prompt + command + EOS, index of the first command token)."""
    command = tokenizer(" " + example.command, add_special_tokens=False)["input_ids"][:max_command_tokens - 1]
    command.append(tokenizer.eos_token_id)
    prompt = encode_prompt(tokenizer, example.prompt, max_context - len(command))
    return prompt + command, len(prompt)


@dataclass
class Encoded:
    """A tokenized corpus: `ids[i]` is a whole sequence, `starts[i]` where its command begins."""

    ids: list[list[int]]
    starts: list[int]

    def __len__(self) -> int:
        return len(self.ids)

    def tokens(self) -> int:
        return sum(len(ids) for ids in self.ids)

    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.ids]


def encode_examples(tokenizer: Any, items: Sequence[Example], max_context: int,
                    max_command_tokens: int) -> Encoded:
    pairs = [encode_example(tokenizer, e, max_context, max_command_tokens) for e in items]
    return Encoded([ids for ids, _ in pairs], [start for _, start in pairs])


def batches(data: Encoded, batch_size: int) -> Iterator[list[int]]:
    """Index batches over `data` in order (the held-out figures; training shuffles with
    `textgym.agents.common.batching`)."""
    yield from (list(range(i, min(i + batch_size, len(data)))) for i in range(0, len(data), batch_size))
