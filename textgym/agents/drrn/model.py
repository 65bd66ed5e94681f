"""The DRRN network: a Q-value for every (state, candidate command) pair.

Deep Reinforcement Relevance Network (He et al., ACL 2016), in the form of the ScienceWorld
paper's strongest RL baseline (Wang et al., EMNLP 2022, after Hausknecht et al.'s Jericho DRRN):
one GRU per state text (observation, look, inventory, task) and one for commands, over a shared
word embedding; Q(s, a) = MLP([h_obs, h_look, h_inv, h_task, h_a]). The state is encoded once and
paired with each candidate, and each distinct command is encoded once per batch, so a state with
K candidates costs one state pass and at most K command passes, not K full passes.

A ScienceWorld state has hundreds to thousands of valid actions (up to ~8k without
simplifications), so commands and (state, command) pairs go through the network in chunks of
`chunk_size`: memory stays bounded whatever the number of candidates.

Inputs are `TokenBatch`es: `(N, L)` word ids on the network's device and their `(N,)` lengths on
the CPU, where `pack_padded_sequence` wants them (computed once from the numpy ids, so no GRU call
waits for the device).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence

DEFAULT_CHUNK_SIZE = 4096
"""Commands (and state-command pairs) per network pass."""


class TokenBatch(NamedTuple):
    """Padded word ids on the model's device, and their lengths (at least 1) on the CPU."""

    ids: torch.Tensor
    lengths: torch.Tensor

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: slice | torch.Tensor) -> TokenBatch:  # type: ignore[override]
        return TokenBatch(self.ids[index.to(self.ids.device) if isinstance(index, torch.Tensor) else index],
                          self.lengths[index.cpu() if isinstance(index, torch.Tensor) else index])


def token_batch(ids: np.ndarray, pad_id: int, device: str | torch.device) -> TokenBatch:
    """A `TokenBatch` of numpy word ids `(N, L)` padded with `pad_id`."""
    lengths = torch.from_numpy(np.maximum((ids != pad_id).sum(-1), 1).astype(np.int64))
    return TokenBatch(torch.as_tensor(ids, device=device).long(), lengths)


class TextGRU(nn.Module):
    """Last hidden state of a GRU over padded word ids (pads are skipped, not read)."""

    def __init__(self, embedding: nn.Embedding, hidden_dim: int) -> None:
        super().__init__()
        self.embedding = embedding
        self.gru = nn.GRU(embedding.embedding_dim, hidden_dim, batch_first=True)

    def forward(self, batch: TokenBatch) -> torch.Tensor:
        packed = pack_padded_sequence(self.embedding(batch.ids), batch.lengths, batch_first=True,
                                      enforce_sorted=False)
        _, hidden = self.gru(packed)
        return hidden[-1]


class DRRN(nn.Module):
    """Q-values over candidate commands.

    :param vocab_size: size of the word vocabulary (the tokenizer's `len`).
    :param fields: the state texts, in the order of the `EncodeDict` fields.
    :param pad_id: the tokenizer's pad id.
    :param embedding_dim: word embedding size.
    :param hidden_dim: GRU and MLP width.
    """

    def __init__(self, vocab_size: int, fields: Sequence[str], pad_id: int = 0, embedding_dim: int = 64,
                 hidden_dim: int = 128) -> None:
        super().__init__()
        self.fields = tuple(fields)
        self.pad_id = pad_id
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.state_encoders = nn.ModuleDict({f: TextGRU(self.embedding, hidden_dim) for f in self.fields})
        self.action_encoder = TextGRU(self.embedding, hidden_dim)
        self.scorer = nn.Sequential(nn.Linear((len(self.fields) + 1) * hidden_dim, hidden_dim), nn.ReLU(),
                                    nn.Linear(hidden_dim, 1))

    def encode_state(self, states: Mapping[str, TokenBatch]) -> torch.Tensor:
        """`(B, len(fields) * hidden_dim)`."""
        return torch.cat([self.state_encoders[f](states[f]) for f in self.fields], dim=-1)

    def encode_commands(self, commands: TokenBatch, chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
        """`(N, hidden_dim)`, `chunk_size` commands at a time."""
        return torch.cat([self.action_encoder(commands[start:start + chunk_size])
                          for start in range(0, len(commands), chunk_size)])

    def score(self, state: torch.Tensor, command: torch.Tensor) -> torch.Tensor:
        """Q of encoded commands `(N, H)` in the matching rows of encoded states `(N, S)`: `(N,)`."""
        return self.scorer(torch.cat([state, command], dim=-1)).squeeze(-1)

    def q_values(self, states: Mapping[str, TokenBatch], commands: TokenBatch,
                 candidates: Sequence[torch.Tensor], chunk_size: int = DEFAULT_CHUNK_SIZE) -> torch.Tensor:
        """Q of every candidate of every state, `(B, max candidates)`, -inf past a row's last one.

        Args:
            states: B states.
            commands: the distinct commands the candidates refer to.
            candidates: for each state, a long tensor of row indices into `commands`.
        """
        state = self.encode_state(states)
        encoded = self.encode_commands(commands, chunk_size)
        device = state.device
        counts = torch.tensor([len(c) for c in candidates], device=device)
        rows = torch.repeat_interleave(torch.arange(len(candidates), device=device), counts)
        columns = torch.cat([torch.arange(len(c), device=device) for c in candidates])
        which = torch.cat([c.to(device) for c in candidates]).long()
        width = max(1, *(len(c) for c in candidates)) if len(candidates) else 1
        q = torch.full((len(candidates), width), float("-inf"), device=device)
        for start in range(0, len(rows), chunk_size):
            part = slice(start, start + chunk_size)
            q[rows[part], columns[part]] = self.score(state[rows[part]], encoded[which[part]])
        return q
