"""The sanity figures of a CoLA model, measured on held-out trajectory text.

- **controllability**: from one context, how many distinct next tokens the K latents give
  (mean over contexts; 1 means the latents do nothing, K means each one picks its own token);
- **reconstruction accuracy**: teacher-forced next-token accuracy of the world model with the
  IDM's latents, against the trunk alone (the IDM sees the next token, so this should be far
  higher: K = 64 latents carry 6 bits per token);
- **code usage**: perplexity of the latents the IDM assigns (exp of the entropy of their
  frequencies; 1 is a collapsed codebook, K is uniform use) and how many codes are used at all;
- **policy (BC fidelity)**: on command tokens, how often the policy picks the IDM's latent and
  the world model's accuracy under the policy's greedy latents, against the trunk's.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import torch

from textgym.agents.cola.text import Encoded, batches

if TYPE_CHECKING:
    from textgym.agents.cola.model import CoLAModel


@torch.no_grad()
def measure(model: CoLAModel, data: Encoded, batch_size: int = 32,
            controllability_contexts: int = 256) -> dict[str, float]:
    """All the figures above on `data` (a tokenized held-out corpus)."""
    was_training = model.training
    model.eval()
    codes = model.codes
    # Sums stay on the device until the end; the states sampled for controllability go to the host.
    counts = torch.zeros(codes, dtype=torch.long, device=model.device)
    keys = ("tokens", "idm_correct", "trunk_correct", "command_tokens", "policy_correct",
            "trunk_command_correct", "bc_agree")
    sums = torch.zeros(len(keys), dtype=torch.long, device=model.device)
    contexts: list[torch.Tensor] = []
    command_contexts: list[torch.Tensor] = []
    for index in batches(data, batch_size):
        ids, mask = model.pad([data.ids[i] for i in index])
        states = model.states(ids, mask)
        targets, valid = ids[:, 1:], mask[:, 1:].bool()
        starts = torch.tensor([data.starts[i] for i in index], device=ids.device)
        position = torch.arange(targets.shape[1], device=ids.device)
        command = valid & (position[None] + 1 >= starts[:, None])
        labels = model.idm_logits(states).argmax(-1)
        before = states[:, :-1]
        world = model.world_logits(before, labels).argmax(-1)
        trunk = model.trunk_logits(before).argmax(-1)
        chosen = model.policy_logits(states)[:, :-1].argmax(-1)
        steered = model.world_logits(before, chosen).argmax(-1)
        sums += torch.stack([valid.sum(), (world == targets)[valid].sum(), (trunk == targets)[valid].sum(),
                             command.sum(), (steered == targets)[command].sum(),
                             (trunk == targets)[command].sum(), (chosen == labels)[command].sum()])
        counts += torch.bincount(labels[valid], minlength=codes)
        contexts.append(before[valid].cpu())
        command_contexts.append(before[command].cpu())
    totals = dict(zip(keys, sums.tolist(), strict=True))
    counts = counts.cpu()
    frequencies = counts.double() / counts.sum()
    entropy = -(frequencies[frequencies > 0] * frequencies[frequencies > 0].log()).sum().item()
    generator = torch.Generator().manual_seed(0)
    some = controllability_contexts
    figures = {
        "reconstruction_accuracy": totals["idm_correct"] / totals["tokens"],
        "trunk_accuracy": totals["trunk_correct"] / totals["tokens"],
        "code_perplexity": math.exp(entropy),
        "codes_used": float((counts > 0).sum().item()),
        "controllability": distinct_tokens(model, _sample(torch.cat(contexts), some, generator)
                                           .to(model.device)),
        "controllability_command": distinct_tokens(model, _sample(torch.cat(command_contexts), some,
                                                                  generator).to(model.device)),
        "policy_accuracy": totals["policy_correct"] / max(totals["command_tokens"], 1),
        "trunk_command_accuracy": totals["trunk_command_correct"] / max(totals["command_tokens"], 1),
        "bc_agreement": totals["bc_agree"] / max(totals["command_tokens"], 1),
        "codes": float(codes),
    }
    model.train(was_training)
    return figures


def _sample(rows: torch.Tensor, count: int, generator: torch.Generator) -> torch.Tensor:
    if len(rows) <= count:
        return rows
    return rows[torch.randperm(len(rows), generator=generator)[:count]]


@torch.no_grad()
def distinct_tokens(model: CoLAModel, states: torch.Tensor) -> float:
    """Mean number of distinct greedy tokens the K latents give from each of the (N, d) states."""
    if len(states) == 0:
        return 0.0
    tokens = torch.stack([model.world_logits(states, torch.full((len(states),), code, device=states.device))
                          .argmax(-1) for code in range(model.codes)], dim=1).sort(-1).values
    distinct = 1 + (tokens[:, 1:] != tokens[:, :-1]).sum(-1)
    return distinct.float().mean().item()
