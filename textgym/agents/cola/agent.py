"""`CoLAAgent`: a latent-action policy steering a language world model, in the Agent protocol.

For each parallel episode (slot) the agent builds a prompt from the task, its own last
commands and the observation; then, token by token, the policy picks a latent and the world
model decodes its token greedily, until EOS. Every slot's command is generated in the same
batched forward passes. How the latent is picked (`sampling`):

- "greedy" (evaluation, the default): the policy's most likely latent, as the paper decodes.
- "sample": a latent drawn from the policy (temperature, top-k), seeded per episode by
  `reset_env(slot, seed)`: CoLA's exploration, and how `textgym train cola-rl` collects episodes.
- "token-marginal": not the paper's. Many latents give the same token from a given context;
  this sums their probabilities per token, takes the likeliest token, and the likeliest latent
  among those that give it (so a token several latents share can beat the best single latent).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from textgym.agents.base import SeededAgent, read_agent_file
from textgym.agents.cola.model import CoLAModel
from textgym.validation import check_integer, check_positive

SAMPLING = ("greedy", "sample", "token-marginal")


@dataclass
class Decision:
    """One command as the policy made it: what RL needs to score and re-weigh it."""

    prompt: list[int]    # prompt token ids
    tokens: list[int]    # the command's tokens (EOS included when reached)
    latents: list[int]   # the latent behind each token
    logps: list[float]   # log pi(latent | context) of each, under the policy that drew it


class CoLAAgent(SeededAgent):
    """A CoLA policy over latent actions, evaluable by `textgym eval --agent DIR`.

    Args:
        model: a `CoLAModel` with a trained policy, or the folder it was saved to.
        device: where the model runs.
        sampling: "greedy" (the most likely latent), "sample" or "token-marginal" (see above).
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
        check_positive("temperature", temperature)
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
        cap, device = self.model.config.max_command_tokens, self.model.device
        # A fixed number of uniforms per command and slot, drawn up front from the slot's generator:
        # an episode's draws do not depend on the other rows of the batch, and never wait on the device.
        uniforms = (torch.stack([torch.rand(cap, generator=self.torch_generator(slot)) for slot in slots])
                    .to(device) if self.sampling == "sample" else None)
        logps = torch.zeros((len(slots), cap), device=device)

        def choose(logits: Tensor, tokens: Tensor | None, step: int) -> Tensor:
            scaled = torch.log_softmax(logits.float() / self.temperature, dim=-1)
            latents = pick_latents(scaled, tokens, self.sampling, self.top_k,
                                   None if uniforms is None else uniforms[:, step])
            logps[:, step] = torch.log_softmax(logits.float(), dim=-1).gather(1, latents[:, None])[:, 0]
            return latents

        generated = self.model.generate(prompts, choose, token_table=self.sampling == "token-marginal")
        commands = []
        for slot, prompt, out, logp in zip(slots, prompts, generated, logps.tolist(), strict=True):
            command = self.model.command_text(out.tokens)
            self._histories[slot].append(command)
            commands.append(command)
            if self.record:
                self.episodes.setdefault(self._seeds[slot], []).append(
                    Decision(prompt, out.tokens, out.latents, logp[:len(out.latents)]))
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


def pick_latents(log_probs: Tensor, tokens: Tensor | None, sampling: str, top_k: int = 0,
                 uniforms: Tensor | None = None) -> Tensor:
    """(B,) latents from (B, K) policy log-probs, `tokens[b, k]` being the token latent k gives
    (needed by "token-marginal" only).

    "sample" inverts the CDF of the (top-k) distribution at `uniforms` (B,), on the device.
    """
    if sampling == "greedy":
        return log_probs.argmax(-1)
    if sampling == "token-marginal":
        if tokens is None:
            raise ValueError("Token-marginal decoding needs the token of every latent (token_table=True).")
        same = tokens[:, :, None] == tokens[:, None, :]                      # (B, K, K)
        mass = (same * log_probs.exp()[:, None, :]).sum(-1)                   # of each latent's token
        best = mass == mass.max(-1, keepdim=True).values
        return log_probs.masked_fill(~best, float("-inf")).argmax(-1)
    if uniforms is None:
        raise ValueError("Sampling latents needs one uniform draw per row.")
    if top_k:
        cut = log_probs.topk(min(top_k, log_probs.shape[-1]), dim=-1).values[:, -1:]
        log_probs = log_probs.masked_fill(log_probs < cut, float("-inf"))
    cdf = log_probs.exp().cumsum(-1)
    drawn = torch.searchsorted(cdf, (uniforms * cdf[:, -1]).unsqueeze(-1), right=True)[:, 0]
    return drawn.clamp(max=log_probs.shape[-1] - 1)
