"""The DRRN network: a Q-value for every (state, candidate command) pair.

Deep Reinforcement Relevance Network (He et al., ACL 2016), in the form of the ScienceWorld
paper's strongest RL baseline (Wang et al., EMNLP 2022, after Hausknecht et al.'s Jericho DRRN):
one GRU per state text (observation, look, inventory, task) and one for commands, over a shared
word embedding; Q(s, a) = MLP([h_obs, h_look, h_inv, h_task, h_a]). The state is encoded once and
paired with each candidate, so a state with K candidates costs one pass, not K.

Inputs are the `EncodeDict` observations of `textgym.wrappers` built with `TokenIdEncoder`s:
`(B, L)` word ids per field, `(B, K, La)` ids for the candidates and a `(B, K)` action mask.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence


class TextGRU(nn.Module):
    """Last hidden state of a GRU over padded word ids (pads are skipped, not read)."""

    def __init__(self, embedding: nn.Embedding, hidden_dim: int, pad_id: int) -> None:
        super().__init__()
        self.embedding = embedding
        self.pad_id = pad_id
        self.gru = nn.GRU(embedding.embedding_dim, hidden_dim, batch_first=True)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        lengths = (ids != self.pad_id).sum(-1).clamp(min=1).cpu()
        packed = pack_padded_sequence(self.embedding(ids.long()), lengths, batch_first=True,
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
        self.embedding = nn.Embedding(vocab_size, embedding_dim, padding_idx=pad_id)
        self.state_encoders = nn.ModuleDict(
            {field: TextGRU(self.embedding, hidden_dim, pad_id) for field in self.fields})
        self.action_encoder = TextGRU(self.embedding, hidden_dim, pad_id)
        self.scorer = nn.Sequential(nn.Linear((len(self.fields) + 1) * hidden_dim, hidden_dim), nn.ReLU(),
                                    nn.Linear(hidden_dim, 1))

    def encode_state(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """`(B, len(fields) * hidden_dim)`."""
        return torch.cat([self.state_encoders[f](obs[f]) for f in self.fields], dim=-1)

    def score(self, state: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
        """Q of `actions` `(N, La)` in the matching rows of `state` `(N, S)`: `(N,)`.

        Each distinct command is encoded once: a batch repeats commands across states and steps.
        """
        unique, inverse = torch.unique(actions, dim=0, return_inverse=True)
        encoded = self.action_encoder(unique)[inverse]
        return self.scorer(torch.cat([state, encoded], dim=-1)).squeeze(-1)

    def forward(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        """Q of every candidate, `(B, K)`; masked-out candidates get -inf (only real ones are encoded)."""
        state = self.encode_state(obs)
        mask = obs["action_mask"].bool()
        rows, columns = mask.nonzero(as_tuple=True)
        q = torch.full(mask.shape, float("-inf"), device=state.device)
        if len(rows):
            q[rows, columns] = self.score(state[rows], obs["candidates"][rows, columns])
        return q

    def q_taken(self, obs: Mapping[str, torch.Tensor], actions: torch.Tensor) -> torch.Tensor:
        """Q of the candidate each row took, `(B,)`."""
        rows = torch.arange(len(actions), device=actions.device)
        return self.score(self.encode_state(obs), obs["candidates"][rows, actions])


def to_tensors(obs: Mapping[str, Any], device: str | torch.device) -> dict[str, torch.Tensor]:
    """A batched `EncodeDict` observation (numpy arrays) on `device`."""
    return {key: torch.as_tensor(value, device=device) for key, value in obs.items()}
