"""`Seq2SeqAgent`: what the BC and sub-goal agents share (memory slots, the fallback, files).

Each parallel episode (slot) has an `EpisodeMemory`. On every `act_batch` call the agent first
writes what the env answered to the last command into the slot's memory (the observation, the
reward as the score change, the new look and inventory), then asks its models for all slots at
once and turns their beams into admissible commands (`decoding.choose_command`).

A saved agent is one folder: `agent.json` (class and settings) and one `save_pretrained` folder
per model (`model/` for BC, `planner/` and `executor/` for the sub-goal agent).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, ClassVar

from textgym.agents.base import Agent, read_agent_file
from textgym.agents.seq2seq.decoding import SIMILARITIES, make_similarity
from textgym.agents.seq2seq.model import Seq2SeqLM
from textgym.agents.seq2seq.prompts import EpisodeMemory, PromptConfig
from textgym.validation import check_integer


class Seq2SeqAgent(Agent):
    """Base of the seq2seq imitation agents.

    Args:
        prompt: the prompt's word budgets (a `PromptConfig` or its dict); it must be the one the
            models were trained with, which `save`/`load` keep together.
        num_beams: beams per decision (the paper uses 5).
        similarity: fallback when no beam is admissible: "minilm" (MiniLM sentence embeddings, the
            paper's `--sbert`; it scored 7-15 points above "overlap" for both agents in
            benchmarks/imitation_figures.py) or "overlap" (shared words, the paper's default).
        max_new_tokens: the longest generated command or sub-goal.
        device: where the models run.
    """

    model_names: ClassVar[tuple[str, ...]] = ()
    required_info = ("admissible_commands", "look", "inventory")

    def __init__(self, prompt: PromptConfig | dict[str, int] | None = None, num_beams: int = 5,
                 similarity: str = "minilm", max_new_tokens: int = 24, device: str = "cpu") -> None:
        super().__init__(device)
        self.prompt = prompt if isinstance(prompt, PromptConfig) else PromptConfig(**(prompt or {}))
        self.max_new_tokens = max_new_tokens
        self.set_decoding(num_beams, similarity)
        self.reset(1)

    def set_decoding(self, num_beams: int | None = None, similarity: str | None = None) -> None:
        """Change the beams or the fallback similarity of a trained agent (None: keep it)."""
        num_beams = self.num_beams if num_beams is None else num_beams
        similarity = self.similarity_name if similarity is None else similarity
        check_integer("num_beams", num_beams, low=1)
        if similarity not in SIMILARITIES:
            raise ValueError(f"Unknown similarity {similarity!r}; choose one of {SIMILARITIES}.")
        if similarity != getattr(self, "similarity_name", None):
            self.similarity = make_similarity(similarity, self.device)
        self.num_beams, self.similarity_name = num_beams, similarity

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self.memories: list[EpisodeMemory | None] = [None] * num_envs
        self._last: list[str | None] = [None] * num_envs

    def reset_env(self, slot: int, seed: int | None = None) -> None:
        self.memories[slot] = None  # decoding is deterministic: nothing to seed
        self._last[slot] = None

    def _observe(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                 slots: Sequence[int]) -> list[EpisodeMemory]:
        """Each slot's memory, updated with what the env answered to its last command."""
        memories = []
        for slot, observation, info in zip(slots, observations, infos, strict=True):
            missing = [key for key in ("task", "score", "look", "inventory") if key not in info]
            if missing:
                raise KeyError(f"{type(self).__name__} reads info[{missing[0]!r}]: make the env with "
                               f"extra_info=('look', 'inventory') and admissible_commands=True "
                               f"(textgym eval does this from `required_info`).")
            memory = self.memories[slot]
            if memory is None:
                memory = self.memories[slot] = EpisodeMemory(info["task"])
            else:
                memory.record(self._last[slot], float(info["score"]) - memory.score, observation)
            memory.observe(info["look"], info["inventory"], info["score"])
            memories.append(memory)
        return memories

    def _sent(self, slots: Sequence[int], commands: Sequence[str]) -> list[str]:
        for slot, command in zip(slots, commands, strict=True):
            self._last[slot] = command
        return list(commands)

    def _generate(self, lm: Seq2SeqLM, prompts: list[str]) -> list[list[str]]:
        return lm.generate(prompts, num_beams=self.num_beams, max_new_tokens=self.max_new_tokens)

    # ---------------------------------------------------------------------------------- files
    def models(self) -> dict[str, Seq2SeqLM]:
        """The agent's models by folder name."""
        return {name: getattr(self, name) for name in self.model_names}

    def config(self) -> dict[str, Any]:
        return {"prompt": self.prompt.to_dict(), "num_beams": self.num_beams,
                "similarity": self.similarity_name, "max_new_tokens": self.max_new_tokens}

    def save(self, directory: str | Path) -> Path:
        """Every model with `save_pretrained` in its own folder, then `agent.json`."""
        for name, lm in self.models().items():
            lm.save(Path(directory) / name)
        return super().save(directory)

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Seq2SeqAgent:
        meta = read_agent_file(Path(directory))
        models = {name: Seq2SeqLM.load(Path(directory) / name, device) for name in cls.model_names}
        return cls(**models, **meta.get("config", {}), device=device)
