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

import argparse
from pathlib import Path

import torch
from torch.nn import functional as F
from tqdm import tqdm

from textgym.agents.cola.agent import CoLAAgent
from textgym.agents.cola.metrics import measure
from textgym.agents.cola.model import CoLAModel
from textgym.agents.cola.text import encode_examples, load_examples, split_episodes
from textgym.agents.cola.train_world_model import format_figures
from textgym.agents.cola.training import (
    add_common_arguments,
    add_data_arguments,
    check_positive,
    endless_batches,
    log_figures,
    logging_step,
    seed_everything,
    summary_writer,
    warmup_cosine,
    write_json,
)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--world-model", required=True,
                        help="folder written by `textgym train cola-world-model`")
    add_data_arguments(parser)
    add_common_arguments(parser, steps=1500, lr=1e-3)
    parser.add_argument("--eval-every", type=int, default=500,
                        help="steps between held-out figures (default: %(default)s)")


def run(args: argparse.Namespace) -> int:
    check_positive(args, "steps", "batch_size", "lr", "eval_every")
    rng = seed_everything(args.seed)
    out = Path(args.out)
    model = CoLAModel.load(args.world_model, device=args.device)
    fmt = model.config.prompt
    examples = load_examples(args.data, fmt)
    if args.eval_data:
        train_examples, held_examples = examples, load_examples(args.eval_data, fmt)
    else:
        train_examples, held_examples = split_episodes(examples, args.held_out, args.seed)
    config = model.config
    data, held_out = (encode_examples(model.tokenizer, items, config.max_context, config.max_command_tokens)
                      for items in (train_examples, held_examples))
    writer = summary_writer(args)
    print(f"policy: {sum(p.numel() for p in model.policy.parameters()):,} parameters; "
          f"{len(data)} commands to clone")

    model.stage = "policy"
    agent = CoLAAgent(model, device=args.device)
    model.train()
    optimizer = torch.optim.AdamW(model.policy.parameters(), lr=args.lr, weight_decay=0.01)
    schedule = warmup_cosine(optimizer, args.steps)
    batches = endless_batches(data, args.batch_size, rng)
    for step in (bar := tqdm(range(args.steps), desc="policy", dynamic_ncols=True, disable=args.quiet)):
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
        if logging_step(step, args.steps):
            accuracy = (logits.argmax(-1) == labels[command]).float().mean()
            loss_value, accuracy = torch.stack([loss.detach(), accuracy]).tolist()
            bar.set_postfix(loss=f"{loss_value:.3f}", acc=f"{accuracy:.2f}")
            writer.add_scalar("policy/bc_loss", loss_value, step)
            writer.add_scalar("policy/bc_accuracy", accuracy, step)
        if (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            log_figures(writer, "held_out", measure(model, held_out, args.batch_size), step)
            agent.save(out)  # a checkpoint

    figures = measure(model, held_out, args.batch_size)
    log_figures(writer, "held_out", figures, args.steps)
    writer.close()
    agent.save(out)
    write_json(out / "metrics.json", {"stage": "policy", **figures})
    print(format_figures(figures))
    print(f"saved the CoLA agent to {out} (evaluate it with `textgym eval --agent {out}`)")
    return 0
