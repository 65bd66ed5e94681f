"""What else could be said: random admissible commands at every state of the gold episodes.

CoLA's trunk is a language model of what *could* be said and its policy of what *should* be. A
small trunk trained on gold paths alone predicts the gold command almost surely (ScienceWorld's
templated text has a next-token perplexity near 1.3), so the world model needs its latents only
to correct the trunk, and from one context the K latents reach few distinct tokens. Adding, at
every gold state, a few commands drawn from the simulator's admissible ones teaches the trunk the
space of valid commands: the latents then choose among them, and the policy learns which.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import gymnasium as gym

from textgym.agents.cola.text import Example, PromptFormat
from textgym.cache import read_json
from textgym.data.gold import MANIFEST, make_kwargs
from textgym.data.records import episodes, load_steps


def gold_states(data: str | Path, fmt: PromptFormat) -> Iterator[tuple[Example, list[str]]]:
    """Each gold step of `data` (its prompt and gold command) with the admissible commands of its state.

    The episodes are replayed in their envs, made with the dataset's own settings (its
    `manifest.json`; ScienceWorld's "easy" simplification when there is none).
    """
    manifest = read_json(Path(data) / MANIFEST) if Path(data).is_dir() else None
    simplification = manifest.get("simplification", "easy") if isinstance(manifest, dict) else "easy"
    env: Any = None
    key: tuple[str, str] | None = None
    try:
        for episode in episodes(load_steps(data)):
            first = episode[0]
            if key != (first["env_id"], first["split"]):
                if env is not None:
                    env.close()
                key = (first["env_id"], first["split"])
                env = gym.make(first["env_id"], **make_kwargs(*key, simplification)).unwrapped  # no limit
            env.reset(options={"variation": first["variation"]})
            history: list[str] = []
            for row in episode:
                prompt = fmt.prompt(row["task_description"], history, row["observation"])
                yield (Example(prompt, row["action"], row["env_id"], int(row["variation"])),
                       env.admissible_commands())
                env.step(row["action"])
                history.append(row["action"])
    finally:
        if env is not None:
            env.close()


def explore(data: str | Path, fmt: PromptFormat, per_state: int, seed: int = 0) -> list[Example]:
    """`per_state` admissible commands, uniformly drawn, at each gold state of `data` (with the gold
    history and observation of that state)."""
    rng = random.Random(seed)
    return [Example(gold.prompt, command, gold.env_id, gold.variation)
            for gold, commands in gold_states(data, fmt)
            for command in rng.sample(commands, min(per_state, len(commands)))]
