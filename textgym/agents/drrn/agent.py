"""`DRRNAgent`: a trained DRRN as a textgym `Agent` (what `textgym eval --agent DIR` runs)."""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from textgym.agents.base import SeededAgent, read_agent_file
from textgym.agents.common.sampling import sample_actions
from textgym.agents.drrn.model import DRRN, to_tensors
from textgym.wrappers.candidates import DEFAULT_MAX_CANDIDATES, check_max_candidates
from textgym.wrappers.encoding import EncodeDict, TokenIdEncoder, agent_states, check_fields

DEFAULT_FIELDS = ("observation", "look", "inventory", "task")


class DRRNAgent(SeededAgent):
    """DRRN (He et al., 2016; the ScienceWorld paper's RL baseline) over the admissible commands.

    Each state keeps up to `max_candidates` admissible commands (the `CandidateActions` policy)
    and picks one by softmax(Q / temperature) sampling, seeded per episode; `temperature=0` is
    greedy. All slots' states and candidates go through the network in one batch.

    Args:
        tokenizer: the word tokenizer the network was trained with (`build_env_tokenizer`).
        fields: the state texts the network reads.
        max_candidates: K, candidates scored per state.
        max_length: word ids kept per state text.
        candidate_length: word ids kept per command.
        embedding_dim, hidden_dim: network sizes (see `DRRN`; the defaults train on a CPU, the
            ScienceWorld paper's DRRN used 128 and 128).
        temperature: softmax temperature of the action choice (0: argmax).
        device: where the network runs.
    """

    name = "drrn"
    required_info = ("admissible_commands", "look", "inventory")

    def __init__(self, tokenizer: Any, fields: Sequence[str] = DEFAULT_FIELDS,
                 max_candidates: int = DEFAULT_MAX_CANDIDATES, max_length: int = 64,
                 candidate_length: int = 12, embedding_dim: int = 32, hidden_dim: int = 64,
                 temperature: float = 1.0, device: str = "cpu") -> None:
        super().__init__(device)
        if isinstance(temperature, bool) or not isinstance(temperature, (int, float)) or temperature < 0:
            raise ValueError(f"temperature must be a number >= 0, got {temperature!r}.")
        self.tokenizer = tokenizer
        self.fields = check_fields(fields)
        self.max_candidates = check_max_candidates(max_candidates)
        self.encoder = TokenIdEncoder(tokenizer, max_length)
        self.candidate_encoder = TokenIdEncoder(tokenizer, candidate_length)
        self.temperature = float(temperature)
        self.network = DRRN(len(tokenizer), self.fields, pad_id=self.encoder.pad_id,
                            embedding_dim=embedding_dim, hidden_dim=hidden_dim).to(device)
        self._sizes = {"embedding_dim": embedding_dim, "hidden_dim": hidden_dim}
        self.reset(1)

    def wrap(self, env: Any) -> EncodeDict:
        """`env` (already in `CandidateActions`) encoded the way this agent reads states (for training)."""
        return EncodeDict(env, self.encoder, self.fields, candidates=True,
                          candidate_encoder=self.candidate_encoder)

    # ------------------------------------------------------------------ Agent API
    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(infos)) if slots is None else slots)
        states, candidates = agent_states(self.encoder, self.fields, observations, infos, self.max_candidates,
                                          [self.rngs[s] for s in slots], self.candidate_encoder)
        with torch.inference_mode():
            q = self.network(to_tensors(states, self.device))
            picks = sample_actions(q, self.temperature, [self.torch_generator(s) for s in slots])
        return [commands[i] for commands, i in zip(candidates, picks.tolist(), strict=True)]

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        return {"fields": list(self.fields), "max_candidates": self.max_candidates,
                "max_length": self.encoder.max_length, "candidate_length": self.candidate_encoder.max_length,
                "temperature": self.temperature, **self._sizes}

    def save(self, directory: str | Path) -> Path:
        directory = super().save(directory)
        self.tokenizer.save_pretrained(directory / "tokenizer")
        torch.save(self.network.state_dict(), directory / "model.pt")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu", **overrides: Any) -> DRRNAgent:
        """A saved agent on `device`; `overrides` replace saved settings (e.g. `temperature=0`)."""
        from transformers import PreTrainedTokenizerFast

        directory = Path(directory)
        config = {**read_agent_file(directory).get("config", {}), **overrides}
        for name in ("tokenizer", "model.pt"):
            if not (directory / name).exists():
                raise FileNotFoundError(f"{directory} is not a complete DRRN agent: {name} is missing.")
        agent = cls(PreTrainedTokenizerFast.from_pretrained(directory / "tokenizer"), **config, device=device)
        try:
            state = torch.load(directory / "model.pt", map_location=device, weights_only=True)
            agent.network.load_state_dict(state)
        except (RuntimeError, EOFError, ValueError, pickle.UnpicklingError) as error:
            raise ValueError(f"Corrupt or mismatched DRRN weights in {directory / 'model.pt'}: "
                             f"{error}") from error
        return agent
