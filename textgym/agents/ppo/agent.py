"""`PPOAgent`: a MaskablePPO policy (sb3-contrib) trained on `EncodeDict(CandidateActions(env))`,
as a textgym `Agent` that `textgym eval --agent DIR` runs on raw `(observation, info)` pairs."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textgym.agents.base import SeededAgent, read_agent_file
from textgym.agents.common.sampling import sample_actions
from textgym.wrappers.candidates import DEFAULT_MAX_CANDIDATES, check_max_candidates
from textgym.wrappers.encoding import EncodeDict, TextEncoder, agent_states, check_fields, encoder_from_config

DEFAULT_FIELDS = ("observation", "task", "look", "inventory")


class PPOAgent(SeededAgent):
    """Picks among up to K admissible commands with a MaskablePPO `MultiInputPolicy`.

    The agent rebuilds exactly the observation the policy was trained on (the `EncodeDict` fields,
    the encoded candidates of `CandidateActions` and their mask), so a policy trained with plain
    SB3 on the wrappers is evaluated on the protocols unchanged. Actions are sampled from the
    masked policy with one generator per episode (seeded by `reset_env`), or the most likely one
    with `deterministic=True`; all slots go through the policy in one batch.

    Args:
        encoder: the `TextEncoder` of the training envs.
        fields: the `EncodeDict` fields of the training envs.
        max_candidates: K of the training envs.
        model: a trained `sb3_contrib.MaskablePPO` (set by the trainer or `load`).
        deterministic: take the most likely candidate instead of sampling.
        device: where the policy runs.
    """

    name = "ppo"

    def __init__(self, encoder: TextEncoder, fields: Sequence[str] = DEFAULT_FIELDS,
                 max_candidates: int = DEFAULT_MAX_CANDIDATES, model: Any = None, deterministic: bool = False,
                 device: str = "cpu") -> None:
        super().__init__(device)
        if not isinstance(encoder, TextEncoder):
            raise TypeError(f"encoder must be a TextEncoder, got {type(encoder).__name__}.")
        self.encoder = encoder
        self.fields = check_fields(fields)
        self.max_candidates = check_max_candidates(max_candidates)
        self.model = model
        self.deterministic = bool(deterministic)
        self.required_info = ("admissible_commands", *(f for f in ("look", "inventory") if f in self.fields))
        self.reset(1)

    def wrap(self, env: Any) -> EncodeDict:
        """`env` (already in `CandidateActions`) encoded the way this agent reads states."""
        return EncodeDict(env, self.encoder, self.fields, candidates=True)

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        if self.model is None:
            raise ValueError("This PPOAgent has no policy: train one (`textgym train ppo`) or load a "
                             "saved agent.")
        slots = list(range(len(infos)) if slots is None else slots)
        states, candidates = agent_states(self.encoder, self.fields, observations, infos, self.max_candidates,
                                          [self.rngs[s] for s in slots])
        policy = self.model.policy
        with torch.inference_mode():
            tensors, _ = policy.obs_to_tensor(states)
            logits = policy.get_distribution(tensors, action_masks=states["action_mask"].astype(bool)
                                             ).distribution.logits
            picks = sample_actions(logits, 0.0 if self.deterministic else 1.0,
                                   [self.torch_generator(s) for s in slots])
        return [commands[i] for commands, i in zip(candidates, picks.tolist(), strict=True)]

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        return {"encoder": self.encoder.config(), "fields": list(self.fields),
                "max_candidates": self.max_candidates, "deterministic": self.deterministic}

    def save(self, directory: str | Path) -> Path:
        if self.model is None:
            raise ValueError("Nothing to save: this PPOAgent has no policy yet.")
        directory = super().save(directory)
        self.model.save(directory / "model.zip")
        if hasattr(self.encoder, "tokenizer"):
            self.encoder.tokenizer.save_pretrained(directory / "tokenizer")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu", **overrides: Any) -> PPOAgent:
        """A saved agent on `device`; `overrides` replace saved settings (e.g. `deterministic=True`)."""
        from sb3_contrib import MaskablePPO

        directory = Path(directory)
        config = {**read_agent_file(directory).get("config", {}), **overrides}
        if not (directory / "model.zip").is_file():
            raise FileNotFoundError(f"{directory} is not a complete PPO agent: model.zip is missing.")
        tokenizer = None
        if (directory / "tokenizer").is_dir():
            from transformers import PreTrainedTokenizerFast

            tokenizer = PreTrainedTokenizerFast.from_pretrained(directory / "tokenizer")
        encoder = encoder_from_config(config.pop("encoder", {}), tokenizer=tokenizer, device=device)
        try:
            model = MaskablePPO.load(directory / "model.zip", device=device)
        except (ValueError, KeyError, OSError, RuntimeError) as error:
            raise ValueError(f"Corrupt PPO model {directory / 'model.zip'}: {error}") from error
        return cls(encoder, **config, model=model, device=device)
