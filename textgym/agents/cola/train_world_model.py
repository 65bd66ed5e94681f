"""`textgym train cola-world-model`: CoLA stage 1, the latent-conditioned language world model.

    textgym train cola-world-model --data data/gold --eval-data data/gold-dev --out runs/cola

1. **Trunk.** With `--trunk default`, a word tokenizer is built from the trajectories and a small
   GPT-2 is pretrained on them by next-token prediction (`--trunk-steps`); with `--trunk smollm2`
   or a Hugging Face id/path, the pretrained LM is loaded. Either way it is then frozen. The
   corpus is the gold steps plus, at each gold state, `--explore` random admissible commands
   (`textgym.agents.cola.explore`): the trunk should know what could be said, not only the gold.
2. **Latent actions.** The inverse dynamics model labels every token with one of K latents
   (Gumbel-softmax with a straight-through one-hot, temperature `--tau`), the world model must
   predict the token from the context and that latent, and both learn together from the
   next-token loss plus a small bonus for IDM entropy (`--entropy`), as in the paper. `--usage`
   adds a bonus for the entropy of the batch's mean IDM distribution, which keeps a small K from
   collapsing onto a few codes (off by default: K = 64 uses 63 codes without it).

The folder written is what `textgym train cola-policy` and the `LatentActions` wrapper load (it
is also saved every `--eval-every` steps, as a checkpoint); `metrics.json` holds the held-out
figures (controllability, reconstruction, code usage).
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any

import torch
from torch.nn import functional as F
from tqdm import tqdm

from textgym.agents.cola.metrics import measure
from textgym.agents.cola.model import SAVED_TRUNK, CoLAConfig, CoLAModel, pad
from textgym.agents.cola.text import Encoded, PromptFormat, encode_examples, load_examples, split_episodes
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
from textgym.agents.cola.trunks import DEFAULT, load_trunk, new_trunk


def configure(parser: argparse.ArgumentParser) -> None:
    add_data_arguments(parser)
    add_common_arguments(parser, steps=2000, lr=1e-3)
    trunk = parser.add_argument_group("trunk")
    trunk.add_argument("--trunk", default=DEFAULT,
                       help="'default' (a GPT-2 pretrained here), 'smollm2', or a Hugging Face LM id/path")
    trunk.add_argument("--tokenizer", default=None, help="tokenizer id/path, if not stored with the trunk")
    trunk.add_argument("--trunk-steps", type=int, default=2000,
                       help="pretraining steps of the default trunk (default: %(default)s)")
    trunk.add_argument("--trunk-lr", type=float, default=2e-3, help="default: %(default)s")
    trunk.add_argument("--trunk-layers", type=int, default=2, help="default: %(default)s")
    trunk.add_argument("--trunk-width", type=int, default=128, help="default: %(default)s")
    trunk.add_argument("--trunk-heads", type=int, default=4, help="default: %(default)s")
    cola = parser.add_argument_group("latent actions")
    cola.add_argument("--codes", type=int, default=64, help="K, the number of latent actions (default: 64)")
    cola.add_argument("--width", type=int, default=0, help="IDM/policy head width (default: the trunk's)")
    cola.add_argument("--idm-layers", type=int, default=2, help="default: %(default)s")
    cola.add_argument("--policy-layers", type=int, default=2, help="default: %(default)s")
    cola.add_argument("--heads", type=int, default=4, help="default: %(default)s")
    cola.add_argument("--merge-layers", type=int, default=2, help="default: %(default)s")
    cola.add_argument("--context", type=int, default=256,
                      help="max tokens of prompt + command (default: %(default)s)")
    cola.add_argument("--command-tokens", type=int, default=12,
                      help="max tokens of a command, EOS included (default: %(default)s)")
    cola.add_argument("--explore", type=int, default=2,
                      help="random admissible commands added to the corpus per gold state (default: 2)")
    cola.add_argument("--tau", type=float, default=2.0,
                      help="Gumbel-softmax temperature (default: %(default)s)")
    cola.add_argument("--entropy", type=float, default=1e-3,
                      help="weight of the IDM entropy bonus (default: %(default)s)")
    cola.add_argument("--usage", type=float, default=0.0,
                      help="weight of a bonus for the entropy of the batch's mean IDM distribution")
    parser.add_argument("--eval-every", type=int, default=500,
                        help="steps between held-out figures (default: %(default)s)")


def pretrain_trunk(trunk: torch.nn.Module, pad_id: int, data: Encoded, held_out: Encoded,
                   args: argparse.Namespace, writer: Any, rng: random.Random) -> None:
    """Next-token prediction on the trajectory text (the default trunk only)."""
    trunk.train()
    optimizer = torch.optim.AdamW(trunk.parameters(), lr=args.trunk_lr, weight_decay=0.01)
    schedule = warmup_cosine(optimizer, args.trunk_steps)
    batches = endless_batches(data, args.batch_size, rng)

    def loss_of(sequences: list[list[int]]) -> torch.Tensor:
        ids, mask = pad(sequences, pad_id, args.device)
        logits = trunk(input_ids=ids, attention_mask=mask).logits[:, :-1]
        valid = mask[:, 1:].bool()
        return F.cross_entropy(logits[valid], ids[:, 1:][valid])

    bar = tqdm(range(args.trunk_steps), desc="trunk", dynamic_ncols=True, disable=args.quiet)
    for step in bar:
        loss = loss_of([data.ids[i] for i in next(batches)])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trunk.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if logging_step(step, args.trunk_steps):
            loss_value = loss.item()
            bar.set_postfix(loss=f"{loss_value:.3f}")
            writer.add_scalar("trunk/loss", loss_value, step)
        if (step + 1) % args.eval_every == 0 or step + 1 == args.trunk_steps:
            trunk.eval()
            with torch.no_grad():
                losses = [loss_of(held_out.ids[i:i + args.batch_size]).item()
                          for i in range(0, len(held_out), args.batch_size)]
            writer.add_scalar("trunk/held_out_loss", sum(losses) / len(losses), step)
            trunk.train()


def run(args: argparse.Namespace) -> int:
    check_positive(args, "steps", "batch_size", "lr", "tau", "eval_every")
    if args.explore < 0:
        raise ValueError(f"--explore must be 0 or more, got {args.explore}.")
    rng = seed_everything(args.seed)
    out = Path(args.out)
    fmt = PromptFormat()
    config = CoLAConfig(codes=args.codes, trunk=SAVED_TRUNK if args.trunk == DEFAULT else args.trunk,
                        width=args.width, idm_layers=args.idm_layers, policy_layers=args.policy_layers,
                        heads=args.heads, merge_layers=args.merge_layers, max_context=args.context,
                        max_command_tokens=args.command_tokens, prompt=fmt)
    examples = load_examples(args.data, fmt)
    if args.eval_data:
        train_examples, held_examples = examples, load_examples(args.eval_data, fmt)
    else:
        train_examples, held_examples = split_episodes(examples, args.held_out, args.seed)
    if not held_examples:
        raise ValueError("No held-out episodes for the figures: pass --eval-data or a larger --held-out.")
    if args.explore:
        from textgym.agents.cola.explore import explore

        held = {(e.env_id, e.variation) for e in held_examples}
        train_examples += [e for e in explore(args.data, fmt, args.explore, args.seed)
                           if (e.env_id, e.variation) not in held]
    writer = summary_writer(args)

    # 1. The trunk: pretrain our own, or load a pretrained one; then it stays frozen.
    if args.trunk == DEFAULT:
        from textgym.data.tokenizer import build_word_tokenizer

        check_positive(args, "trunk_steps")
        tokenizer = build_word_tokenizer((text for e in train_examples for text in (e.prompt, e.command)),
                                         model_max_length=args.context)
        trunk = new_trunk(tokenizer, layers=args.trunk_layers, width=args.trunk_width, heads=args.trunk_heads,
                          max_context=args.context).to(args.device)
    else:
        trunk, tokenizer = load_trunk(args.trunk, args.tokenizer, args.device)
    data = encode_examples(tokenizer, train_examples, args.context, args.command_tokens)
    held_out = encode_examples(tokenizer, held_examples, args.context, args.command_tokens)
    print(f"corpus: {len(data)} sequences, {data.tokens()} tokens; held out: {len(held_out)} sequences; "
          f"vocabulary {len(tokenizer)}")
    if args.trunk == DEFAULT:
        pretrain_trunk(trunk, tokenizer.pad_token_id, data, held_out, args, writer, rng)
    model = CoLAModel(trunk, tokenizer, config).to(args.device)
    print(f"trunk: {sum(p.numel() for p in trunk.parameters()):,} parameters (frozen); world model + IDM: "
          f"{sum(p.numel() for p in model.world_model_parameters()):,} trainable")

    # 2. Latent actions: IDM labels -> world model predicts the token; trunk frozen.
    model.train()
    optimizer = torch.optim.AdamW(model.world_model_parameters(), lr=args.lr, weight_decay=0.0)
    schedule = warmup_cosine(optimizer, args.steps)
    batches = endless_batches(data, args.batch_size, rng)
    for step in (bar := tqdm(range(args.steps), desc="world model", dynamic_ncols=True, disable=args.quiet)):
        ids, mask = model.pad([data.ids[i] for i in next(batches)])
        states = model.states(ids, mask)
        valid = mask[:, 1:].bool()
        idm_logits = model.idm_logits(states)[valid]                      # (N, K)
        latents = F.gumbel_softmax(idm_logits, tau=args.tau, hard=True)   # one-hot, straight-through
        logits = model.world_logits(states[:, :-1][valid], latents)       # (N, V)
        reconstruction = F.cross_entropy(logits, ids[:, 1:][valid])
        probs = idm_logits.softmax(-1)
        negative_entropy = (probs * probs.clamp_min(1e-9).log()).sum(-1).mean()
        usage = probs.mean(0)
        negative_usage_entropy = (usage * usage.clamp_min(1e-9).log()).sum()
        loss = reconstruction + args.entropy * negative_entropy + args.usage * negative_usage_entropy
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.world_model_parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if logging_step(step, args.steps):
            counts = torch.bincount(idm_logits.detach().argmax(-1), minlength=model.codes).float()
            used = counts[counts > 0] / counts.sum()
            perplexity = torch.exp(-(used * used.log()).sum())
            loss_value, entropy, perplexity = torch.stack(
                [reconstruction.detach(), -negative_entropy.detach(), perplexity]).tolist()
            bar.set_postfix(loss=f"{loss_value:.3f}", codes=f"{perplexity:.1f}")
            writer.add_scalar("world_model/reconstruction_loss", loss_value, step)
            writer.add_scalar("world_model/idm_entropy", entropy, step)
            writer.add_scalar("world_model/batch_code_perplexity", perplexity, step)
        if (step + 1) % args.eval_every == 0 and step + 1 < args.steps:
            log_figures(writer, "held_out", measure(model, held_out, args.batch_size), step)
            model.save(out)  # a checkpoint: an interrupted run still leaves a usable model

    figures = measure(model, held_out, args.batch_size)
    log_figures(writer, "held_out", figures, args.steps)
    writer.close()
    model.save(out)
    write_json(out / "metrics.json", {"stage": "world-model", **figures})
    print(format_figures(figures))
    print(f"saved the CoLA world model to {out}")
    return 0


def format_figures(figures: dict[str, float]) -> str:
    """The held-out figures as a few readable lines."""
    return "\n".join([
        f"controllability: {figures['controllability']:.2f} distinct next tokens over "
        f"K={figures['codes']:.0f} latents (command positions: {figures['controllability_command']:.2f})",
        f"reconstruction accuracy: {100 * figures['reconstruction_accuracy']:.1f}% with IDM latents vs "
        f"{100 * figures['trunk_accuracy']:.1f}% for the trunk alone",
        f"code usage: perplexity {figures['code_perplexity']:.1f} of {figures['codes']:.0f}, "
        f"{figures['codes_used']:.0f} codes used",
        f"policy: {100 * figures['bc_agreement']:.1f}% IDM-label agreement, command-token accuracy "
        f"{100 * figures['policy_accuracy']:.1f}% vs {100 * figures['trunk_command_accuracy']:.1f}% "
        "for the trunk",
    ])
