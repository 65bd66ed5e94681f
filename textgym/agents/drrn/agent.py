"""`DRRNAgent`: a trained DRRN as a textgym `Agent` (what `textgym eval --agent DIR` runs)."""

from __future__ import annotations

import pickle
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from textgym.agents.base import SeededAgent, read_agent_file
from textgym.agents.common.sampling import sample_actions
from textgym.agents.drrn.model import DEFAULT_CHUNK_SIZE, DRRN, token_batch
from textgym.validation import check_integer, check_non_negative
from textgym.wrappers.candidates import check_max_candidates, select_candidates
from textgym.wrappers.encoding import (
    EncodeDict,
    TokenIdEncoder,
    admissible_of,
    check_fields,
    encode_states,
    state_texts,
)

DEFAULT_FIELDS = ("observation", "look", "inventory", "task")


class CommandTable:
    """Word ids of every command seen so far, each tokenized once: commands repeat across states,
    steps and episodes. Rows never move, so replay transitions can hold row indices.

        >>> from textgym.data.tokenizer import build_word_tokenizer
        >>> table = CommandTable(TokenIdEncoder(build_word_tokenizer(["go to kitchen", "open door"]), 3))
        >>> table.rows(["open door", "go to kitchen", "open door"])
        array([0, 1, 0])
        >>> table.ids(np.array([1])), table.texts(np.array([1]))
        (array([[5, 6, 7]], dtype=int32), ['go to kitchen'])
    """

    def __init__(self, encoder: TokenIdEncoder) -> None:
        self.encoder = encoder
        self._rows: dict[str, int] = {}
        self._texts: list[str] = []
        self._ids = np.full((1024, encoder.max_length), encoder.pad_id, dtype=np.int32)

    def __len__(self) -> int:
        return len(self._rows)

    def rows(self, commands: Sequence[str]) -> np.ndarray:
        """The row of each command (new commands are tokenized and added)."""
        new = [command for command in dict.fromkeys(commands) if command not in self._rows]
        if new:
            size = len(self._rows)
            if size + len(new) > len(self._ids):
                grown = np.full((max(2 * len(self._ids), size + len(new)), self.encoder.max_length),
                                self.encoder.pad_id, dtype=np.int32)
                grown[:size] = self._ids[:size]
                self._ids = grown
            self._ids[size:size + len(new)] = self.encoder.encode(new)
            self._rows.update((command, size + i) for i, command in enumerate(new))
            self._texts += new
        return np.fromiter((self._rows[command] for command in commands), dtype=np.int64, count=len(commands))

    def ids(self, rows: np.ndarray) -> np.ndarray:
        """`(len(rows), max_length)` word ids."""
        return self._ids[rows]

    def texts(self, rows: np.ndarray) -> list[str]:
        """The commands of `rows`."""
        return [self._texts[row] for row in rows]


@dataclass(frozen=True)
class StateEncoding:
    """What a DRRN training env needs from the agent: the state fields' encoder, and no network
    (env factories are pickled into every env worker; a network there would be copied to each
    worker and, on CUDA, open a CUDA context per worker)."""

    encoder: TokenIdEncoder
    fields: tuple[str, ...]

    def __call__(self, env: gym.Env) -> EncodeDict:
        return EncodeDict(env, self.encoder, self.fields)


class DRRNAgent(SeededAgent):
    """DRRN (He et al., 2016; the ScienceWorld paper's RL baseline) over the admissible commands.

    Every state's admissible commands are scored (the simulator's valid actions, as in the
    ScienceWorld paper), in chunks of `chunk_size` through the network, and the argmax is taken:
    evaluation is greedy by default. `temperature > 0` samples softmax(Q / temperature) instead,
    seeded per episode. `max_candidates=K` is the reduction this agent used before: K commands
    spread over verbs (`select_candidates`), cheaper on CPUs. All slots go through the network in
    one batch.

    Args:
        tokenizer: the word tokenizer the network was trained with (`build_env_tokenizer`).
        fields: the state texts the network reads.
        max_candidates: None (all admissible commands) or K, candidates scored per state.
        max_length: word ids kept per state text.
        candidate_length: word ids kept per command.
        embedding_dim, hidden_dim: network sizes (see `DRRN`; the defaults train on a CPU, the
            ScienceWorld paper's DRRN used 128 and 128).
        temperature: 0 for argmax Q (the default), else the softmax temperature of sampling.
        chunk_size: commands (and state-command pairs) per network pass: bounds memory.
        device: where the network runs.
    """

    name = "drrn"
    required_info = ("admissible_commands", "look", "inventory")

    def __init__(self, tokenizer: Any, fields: Sequence[str] = DEFAULT_FIELDS,
                 max_candidates: int | None = None, max_length: int = 64,
                 candidate_length: int = 12, embedding_dim: int = 32, hidden_dim: int = 64,
                 temperature: float = 0.0, chunk_size: int = DEFAULT_CHUNK_SIZE, device: str = "cpu") -> None:
        super().__init__(device)
        self.tokenizer = tokenizer
        self.fields = check_fields(fields)
        self.max_candidates = None if max_candidates is None else check_max_candidates(max_candidates)
        self.encoder = TokenIdEncoder(tokenizer, max_length)
        self.candidate_encoder = TokenIdEncoder(tokenizer, candidate_length)
        self.commands = CommandTable(self.candidate_encoder)
        self.temperature = check_non_negative("temperature", temperature)
        self.chunk_size = check_integer("chunk_size", chunk_size, low=1)
        self.network = DRRN(len(tokenizer), self.fields, pad_id=self.encoder.pad_id,
                            embedding_dim=embedding_dim, hidden_dim=hidden_dim).to(device)
        self._sizes = {"embedding_dim": embedding_dim, "hidden_dim": hidden_dim}
        self.reset(1)

    def state_encoding(self) -> StateEncoding:
        """The observation wrapper of the training envs (picklable, without the network)."""
        return StateEncoding(self.encoder, self.fields)

    def candidates(self, commands: Sequence[str], rng: np.random.Generator) -> list[str]:
        """The commands this agent scores among `commands` (all, or `max_candidates` of them)."""
        if self.max_candidates is None:
            return list(commands)
        return select_candidates(commands, self.max_candidates, rng)

    def q_values(self, states: Mapping[str, np.ndarray], candidates: Sequence[np.ndarray]) -> torch.Tensor:
        """Q of each state's candidates `(B, max candidates)` (-inf padding).

        Args:
            states: the `EncodeDict` state fields, batched numpy word ids.
            candidates: for each state, the `CommandTable` rows of its candidate commands.
        """
        flat = np.concatenate(candidates) if len(candidates) else np.zeros(0, dtype=np.int64)
        unique, inverse = np.unique(flat, return_inverse=True)
        bounds = np.cumsum([len(c) for c in candidates])[:-1]
        parts = [torch.from_numpy(part) for part in np.split(inverse.reshape(-1), bounds)]
        return self.network.q_values(self._state_batch(states), self._command_batch(unique), parts,
                                     self.chunk_size)

    def q_taken(self, states: Mapping[str, np.ndarray], commands: np.ndarray) -> torch.Tensor:
        """Q of one command per state `(B,)`, with gradients (`commands`: `CommandTable` rows)."""
        state = self.network.encode_state(self._state_batch(states))
        return self.network.score(state, self.network.encode_commands(self._command_batch(commands)))

    def _state_batch(self, states: Mapping[str, np.ndarray]) -> dict[str, Any]:
        return {f: token_batch(states[f], self.encoder.pad_id, self.device) for f in self.fields}

    def _command_batch(self, rows: np.ndarray) -> Any:
        return token_batch(self.commands.ids(rows), self.encoder.pad_id, self.device)

    # ------------------------------------------------------------------ Agent API
    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(infos)) if slots is None else slots)
        candidates = [self.candidates(commands, self.rngs[slot])
                      for commands, slot in zip(admissible_of(infos), slots, strict=True)]
        states = encode_states(self.encoder, self.fields, state_texts(self.fields, observations, infos))
        with torch.inference_mode():
            q = self.q_values(states, [self.commands.rows(commands) for commands in candidates])
            generators = [self.torch_generator(s) for s in slots] if self.temperature else None
            picks = sample_actions(q, self.temperature, generators)
        return [commands[i] for commands, i in zip(candidates, picks.tolist(), strict=True)]

    # ------------------------------------------------------------------ persistence
    def config(self) -> dict[str, Any]:
        return {"fields": list(self.fields), "max_candidates": self.max_candidates,
                "max_length": self.encoder.max_length, "candidate_length": self.candidate_encoder.max_length,
                "temperature": self.temperature, "chunk_size": self.chunk_size, **self._sizes}

    def save(self, directory: str | Path) -> Path:
        directory = super().save(directory)
        self.tokenizer.save_pretrained(directory / "tokenizer")
        torch.save(self.network.state_dict(), directory / "model.pt")
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu", **overrides: Any) -> DRRNAgent:
        """A saved agent on `device`; `overrides` replace saved settings (e.g. `temperature=1`)."""
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
