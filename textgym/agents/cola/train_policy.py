"""`textgym train cola-policy`: behaviour-clone the latent policy to the inverse dynamics labels.

    textgym train cola-policy --world-model runs/cola --data data/gold --eval-data data/gold-dev \\
        --out runs/cola-bc

The IDM, which sees the next token, labels every command token of the gold trajectories with a
latent; the policy, which does not, learns to predict that label from the context (cross-entropy).
Only the policy trains. Generating with it (policy picks a latent, the world model decodes
greedily) then reproduces the gold commands; the folder written is a `CoLAAgent`, evaluable with
`textgym eval --agent OUT` and the start point of `textgym train cola-rl`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import torch
from torch.nn import functional as F
from tqdm import tqdm

from textgym.agents.cola.agent import CoLAAgent
from textgym.agents.cola.metrics import measure
from textgym.agents.cola.model import CoLAModel
from textgym.agents.cola.text import encode_examples, load_examples, split_episodes
from textgym.agents.cola.train_world_model import format_figures
from textgym.agents.cola.training import CoLAImitationConfig, logging_step
from textgym.agents.common.batching import endless_batches
from textgym.agents.common.config import option
from textgym.agents.common.logs import log_figures
from textgym.agents.common.record import TrainedAgent, finish
from textgym.agents.common.schedules import warmup_cosine
from textgym.agents.common.seeding import seed_everything
from textgym.cache import write_json_atomic
from textgym.validation import check_integer, check_positive


@dataclass(kw_only=True)
class CoLAPolicyTrainConfig(CoLAImitationConfig):
    """Settings of `textgym train cola-policy`."""

    command: ClassVar[str] = "cola-policy"
    world_model: str = option(help="folder written by `textgym train cola-world-model`")
    steps: int = option(1500, help="optimizer steps")

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every"):
            check_integer(name, getattr(self, name), low=1)
        check_positive("lr", self.lr)


def train_cola_policy(config: CoLAPolicyTrainConfig) -> TrainedAgent:
    """Behaviour-clone the latent policy of `config.world_model`; the agent is saved in `config.out`."""
    started = time.perf_counter()
    rng = seed_everything(config.seed)
    out = Path(config.out)
    model = CoLAModel.load(config.world_model, device=config.device)
    fmt = model.config.prompt
    examples = load_examples(config.data, fmt)
    if config.eval_data:
        train_examples, held_examples = examples, load_examples(config.eval_data, fmt, "held-out evaluation")
    else:
        train_examples, held_examples = split_episodes(examples, config.held_out, config.seed)
    cola = model.config
    data, held_out = (encode_examples(model.tokenizer, items, cola.max_context, cola.max_command_tokens)
                      for items in (train_examples, held_examples))
    writer = config.writer()
    print(f"policy: {sum(p.numel() for p in model.policy.parameters()):,} parameters; "
          f"{len(data)} commands to clone")

    model.stage = "policy"
    agent = CoLAAgent(model, device=config.device)
    model.train()
    optimizer = torch.optim.AdamW(model.policy.parameters(), lr=config.lr, weight_decay=0.01)
    schedule = warmup_cosine(optimizer, config.steps, min(100, config.steps // 10))
    batches = endless_batches(data.lengths(), config.batch_size, rng)
    for step in (bar := tqdm(range(config.steps), desc="policy", dynamic_ncols=True,
                             disable=not config.progress)):
        index = next(batches)
        ids, mask = model.pad([data.ids[i] for i in index])
        states = model.states(ids, mask)
        with torch.no_grad():
            labels = model.idm_logits(states).argmax(-1)            # the latent of token t -> t+1
        starts = torch.tensor([data.starts[i] for i in index], device=ids.device)
        position = torch.arange(labels.shape[1], device=ids.device)
        command = mask[:, 1:].bool() & (position[None] + 1 >= starts[:, None])  # predicting a command token
        logits = model.policy_logits(states)[:, :-1][command]
        loss = F.cross_entropy(logits, labels[command])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.policy.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if logging_step(step, config.steps):
            accuracy = (logits.argmax(-1) == labels[command]).float().mean()
            loss_value, accuracy = torch.stack([loss.detach(), accuracy]).tolist()
            bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{accuracy:.2f}")
            writer.add_scalar("policy/bc_loss", loss_value, step)
            writer.add_scalar("policy/bc_accuracy", accuracy, step)
        if (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            log_figures(writer, "held_out", measure(model, held_out, config.batch_size), step)
            agent.save(out)  # a checkpoint

    figures = measure(model, held_out, config.batch_size)
    log_figures(writer, "held_out", figures, config.steps)
    writer.close()
    agent.save(out)
    write_json_atomic(out / "metrics.json", {"stage": "policy", **figures})
    print(format_figures(figures))
    data_record = {**config.data_record(), "world_model": config.world_model}
    return finish(agent, out, out, config, steps=config.steps, unit="optimizer steps",
                  seconds=time.perf_counter() - started, data=data_record, metrics=figures)
