"""The agent protocol every textgym baseline follows, and the two reference agents.

An agent maps what an env returns (`observation`, `info`) to a text command. Evaluation runs
several episodes at once and asks the agent for all of them in one `act_batch` call, so that
LM agents batch their inference across envs. An agent keeps one memory *slot* per parallel
episode: `reset(num_envs)` makes the slots, `reset_env(slot, seed)` starts a new episode in one,
and `act_batch(observations, infos, slots)` acts for the listed slots. Randomness is seeded per
episode, so results do not depend on how episodes are spread over slots, processes or machines.
Any object with an `act(observation, info) -> str` method can be evaluated as well
(`textgym.evaluation.evaluate.as_agent` adapts it); `Agent` has the shape of
`textgym.evaluation.evaluate.BatchedAgent`, which the evaluation loop drives without importing
this package.

    >>> agent = RandomAgent()
    >>> agent.reset(num_envs=1)
    >>> agent.reset_env(0, seed=0)
    >>> agent.act("You are in the kitchen.", {"admissible_commands": ["look around", "go to hallway"]})
    'go to hallway'
"""

from __future__ import annotations

import abc
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

AGENT_FILE = "agent.json"
"""Every saved agent directory holds this file: `{"class": "module:Class", ...}`."""


class Agent(abc.ABC):
    """Base class of textgym agents.

    Subclasses implement `act_batch` (and `save`/`load` when they have parameters).

    Attributes:
        name: short name used in result tables.
        required_info: env extras the agent reads from `info`; evaluation makes its envs with
            them (`admissible_commands=True`, `extra_info=(...)`).
        device: where the agent's models run ("cpu", "cuda", "cuda:1", ...).
    """

    name: ClassVar[str] = "agent"
    required_info: ClassVar[tuple[str, ...]] = ()

    def __init__(self, device: str = "cpu") -> None:
        self.device = device
        self.num_envs = 1

    def reset(self, num_envs: int = 1) -> None:
        """Forget everything and make `num_envs` memory slots for parallel episodes."""
        self.num_envs = num_envs

    def reset_env(self, slot: int, seed: int | None = None) -> None:  # noqa: B027 - optional hook
        """Slot `slot` starts a new episode: clear its memory; seed its randomness with `seed`."""

    @abc.abstractmethod
    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        """One command for each listed slot (default: slots 0..len(observations)-1)."""

    def episode_usage(self, slot: int) -> dict[str, float]:
        """What the slot's episode so far cost, e.g. an LLM agent's tokens and requests (evaluation
        records it with the episode's result; agents without such costs report nothing)."""
        return {}

    def act(self, observation: str, info: dict[str, Any]) -> str:
        """One command for a single episode (slot 0)."""
        return self.act_batch([observation], [info], [0])[0]

    def save(self, directory: str | Path) -> Path:
        """Write the agent to `directory` (loadable by `load_agent`)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        meta = {"class": f"{type(self).__module__}:{type(self).__qualname__}", "config": self.config()}
        (directory / AGENT_FILE).write_text(json.dumps(meta, indent=2))
        return directory

    def config(self) -> dict[str, Any]:
        """Constructor keyword arguments that `load` passes back (no device)."""
        return {}

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Agent:
        """Rebuild a saved agent on `device`."""
        meta = read_agent_file(Path(directory))
        return cls(**meta.get("config", {}), device=device)


def read_agent_file(directory: Path) -> dict[str, Any]:
    """The `agent.json` of a saved agent, with clear errors for a missing or corrupt one."""
    path = directory / AGENT_FILE
    if not directory.is_dir():
        raise FileNotFoundError(f"No agent directory at {directory}.")
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a saved textgym agent: it has no {AGENT_FILE}.")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"Corrupt agent file {path}: {error}") from error
    if not isinstance(meta, dict) or not isinstance(meta.get("class"), str):
        raise ValueError(f"Corrupt agent file {path}: no 'class' entry.")
    return meta


class SeededAgent(Agent):
    """Base of agents that sample. Every slot has a numpy generator (`rngs[slot]`) and a torch one
    (`torch_generator(slot)`), both re-seeded by `reset_env(slot, seed)`, so an episode's choices
    depend on its seed only, not on which slot, process or backend runs it."""

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self.rngs = [np.random.default_rng() for _ in range(num_envs)]
        self._seeds: list[int | None] = [None] * num_envs
        self._torch_generators: list[Any] = [None] * num_envs

    def reset_env(self, slot: int, seed: int | None = None) -> None:
        self.rngs[slot] = np.random.default_rng(seed)
        self._seeds[slot], self._torch_generators[slot] = seed, None

    def torch_generator(self, slot: int) -> Any:
        """The slot's `torch.Generator` (made on first use: agents without torch never import it)."""
        if self._torch_generators[slot] is None:
            import torch

            generator = torch.Generator()
            if self._seeds[slot] is None:
                generator.seed()
            else:
                generator.manual_seed(self._seeds[slot])
            self._torch_generators[slot] = generator
        return self._torch_generators[slot]


class RandomAgent(SeededAgent):
    """Uniform over the admissible commands (the ScienceWorld paper's "Rand-Valid" baseline)."""

    name = "random"
    required_info = ("admissible_commands",)

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = range(len(infos)) if slots is None else slots
        actions = []
        for slot, info in zip(slots, infos, strict=True):
            commands = info.get("admissible_commands")
            if not commands:
                raise ValueError("RandomAgent needs info['admissible_commands']: make the env with "
                                 "admissible_commands=True.")
            actions.append(str(commands[self.rngs[slot].integers(len(commands))]))
        return actions


class OracleAgent(Agent):
    """Replays the simulator's gold path (an upper bound; it reads `info["gold_path"]`)."""

    name = "oracle"
    required_info = ("gold_path",)

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self._plans: list[list[str]] = [[] for _ in range(num_envs)]
        self._steps = [0] * num_envs

    def reset_env(self, slot: int, seed: int | None = None) -> None:
        self._plans[slot] = []
        self._steps[slot] = 0

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = range(len(infos)) if slots is None else slots
        actions = []
        for slot, info in zip(slots, infos, strict=True):
            if "gold_path" in info:
                self._plans[slot] = list(info["gold_path"])
                self._steps[slot] = 0
            plan, step = self._plans[slot], self._steps[slot]
            if not plan:
                raise ValueError("OracleAgent needs info['gold_path'] on reset: make the env with "
                                 "extra_info=('gold_path',).")
            actions.append(plan[step] if step < len(plan) else "look around")
            self._steps[slot] += 1
        return actions
