"""`CoLAAgent`: a latent-action policy steering a language world model, in the Agent protocol.

For each parallel episode (slot) the agent builds a prompt from the task, its own last
commands and the observation; then, token by token, the policy picks a latent and the world
model decodes its token greedily, until EOS. Every slot's command is generated in the same
batched forward passes. `sampling="sample"` draws the latent (top-k, temperature), seeded per
episode by `reset_env(slot, seed)`: CoLA's own decoding, and how `textgym train cola-rl`
explores. `sampling="greedy"` (evaluation) takes the most likely *token* under the policy: many
latents give the same token from a given context, so their probabilities are summed per token
first (the most likely single latent can lose to a token that several latents share).
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from textgym.agents.base import SeededAgent, read_agent_file
from textgym.agents.cola.model import CoLAModel, token_log_probs
from textgym.validation import check_integer

SAMPLING = ("greedy", "sample")


@dataclass
class Decision:
    """One command as the policy made it: what RL needs to score and re-weigh it."""

    prompt: list[int]    # prompt token ids
    tokens: list[int]    # the command's tokens (EOS included when reached)
    latents: list[int]   # the latent behind each token
    logps: list[float]   # log-probability of each token when it was drawn (of all latents giving it)


class CoLAAgent(SeededAgent):
    """A CoLA policy over latent actions, evaluable by `textgym eval --agent DIR`.

    Args:
        model: a `CoLAModel` with a trained policy, or the folder it was saved to.
        device: where the model runs.
        sampling: "greedy" (the most likely latent) or "sample".
        temperature: softmax temperature of sampling.
        top_k: sample among the k most likely latents only (0: all of them).
        record: keep a `Decision` per command in `episodes[seed]` (for RL).
    """

    name = "cola"

    def __init__(self, model: CoLAModel | str | Path, device: str = "cpu", sampling: str = "greedy",
                 temperature: float = 1.0, top_k: int = 0, record: bool = False) -> None:
        super().__init__(device)
        if sampling not in SAMPLING:
            raise ValueError(f"Unknown sampling {sampling!r}; choose one of {SAMPLING}.")
        if not isinstance(temperature, numbers.Real) or temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature!r}.")
        check_integer("top_k (0: no limit)", top_k)
        self.model = model.to(device) if isinstance(model, CoLAModel) else CoLAModel.load(model, device)
        if self.model.stage == "world-model":
            raise ValueError("This CoLA model has no trained policy yet: run `textgym train cola-policy`.")
        self.model.eval()
        self.sampling, self.temperature, self.top_k = sampling, float(temperature), int(top_k)
        self.record = record
        self.episodes: dict[int | None, list[Decision]] = {}
        self.reset(1)

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self._histories: list[list[str]] = [[] for _ in range(num_envs)]

    def reset_env(self, slot: int, seed: int | None = None) -> None:
        super().reset_env(slot, seed)
        self._histories[slot] = []
        if self.record:
            self.episodes[seed] = []

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(observations)) if slots is None else slots)
        fmt = self.model.config.prompt
        prompts = []
        for slot, observation, info in zip(slots, observations, infos, strict=True):
            if "task" not in info:
                raise KeyError("CoLAAgent reads the goal from info['task'], which textgym envs provide.")
            text = fmt.prompt(info["task"], self._histories[slot], observation)
            prompts.append(self.model.encode_prompt(text))
        logps: list[list[float]] = [[] for _ in slots]

        def choose(logits: torch.Tensor, tokens: torch.Tensor, rows: list[int]) -> torch.Tensor:
            log_probs = torch.log_softmax(logits.float() / self.temperature, dim=-1)
            if self.sampling == "greedy":
                mass = torch.zeros(len(rows), len(self.model.banned), device=logits.device)
                mass = mass.scatter_add(1, tokens, log_probs.exp())     # probability of each token
                best = tokens == mass.argmax(-1, keepdim=True)          # latents giving the likeliest token
                latents = log_probs.masked_fill(~best, float("-inf")).argmax(-1)
            else:
                if self.top_k:
                    cut = log_probs.topk(min(self.top_k, log_probs.shape[-1]), dim=-1).values[:, -1:]
                    log_probs = log_probs.masked_fill(log_probs < cut, float("-inf")).log_softmax(-1)
                draws = [torch.multinomial(row.exp().cpu(), 1, generator=self.torch_generator(slots[r]))
                         for r, row in zip(rows, log_probs, strict=True)]
                latents = torch.cat(draws).to(logits.device)
            produced = token_log_probs(log_probs, tokens, tokens.gather(1, latents[:, None])[:, 0])
            for r, value in zip(rows, produced.tolist(), strict=True):
                logps[r].append(value)
            return latents

        generated = self.model.generate(prompts, choose)
        commands = []
        for slot, prompt, out, logp in zip(slots, prompts, generated, logps, strict=True):
            command = self.model.command_text(out.tokens)
            self._histories[slot].append(command)
            commands.append(command)
            if self.record:
                self.episodes.setdefault(self._seeds[slot], []).append(
                    Decision(prompt, out.tokens, out.latents, logp))
        return commands

    def config(self) -> dict[str, Any]:
        return {"sampling": self.sampling, "temperature": self.temperature, "top_k": self.top_k}

    def save(self, directory: str | Path) -> Path:
        """The model files and `agent.json` in one folder (`textgym eval --agent DIR` loads it)."""
        self.model.save(directory)
        return super().save(directory)

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> CoLAAgent:
        meta = read_agent_file(Path(directory))
        return cls(CoLAModel.load(directory, device), device=device, **meta.get("config", {}))
