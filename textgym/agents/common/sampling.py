"""Choosing among candidate commands from their scores."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def sample_actions(scores: torch.Tensor, temperature: float,
                   generators: Sequence[torch.Generator] | None = None) -> torch.Tensor:
    """One candidate per row: softmax(scores / temperature) sampling (DRRN's exploration over Q,
    PPO's policy over logits), argmax at temperature 0; one generator per row when given."""
    if temperature == 0:
        return scores.argmax(-1)
    probs = torch.softmax(scores / temperature, dim=-1).cpu()
    if generators is None:
        return torch.multinomial(probs, 1).squeeze(-1).to(scores.device)
    return torch.cat([torch.multinomial(p, 1, generator=g) for p, g in zip(probs, generators, strict=True)]
                     ).to(scores.device)
