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

import random
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch.nn import functional as F
from tqdm import tqdm

from textgym.agents.cola.metrics import measure
from textgym.agents.cola.model import SAVED_TRUNK, CoLAConfig, CoLAModel, pad
from textgym.agents.cola.text import Encoded, PromptFormat, encode_examples, load_examples, split_episodes
from textgym.agents.cola.training import CoLAImitationConfig, logging_step
from textgym.agents.cola.trunks import DEFAULT, load_trunk, new_trunk
from textgym.agents.common.batching import endless_batches
from textgym.agents.common.config import option
from textgym.agents.common.logs import log_figures
from textgym.agents.common.record import TrainedAgent, finish
from textgym.agents.common.schedules import warmup_cosine
from textgym.agents.common.seeding import seed_everything
from textgym.cache import write_json_atomic
from textgym.validation import check_integer, check_positive


@dataclass(kw_only=True)
class CoLAWorldModelTrainConfig(CoLAImitationConfig):
    """Settings of `textgym train cola-world-model`."""

    command: ClassVar[str] = "cola-world-model"
    trunk: str = option(DEFAULT, help="'default' (a GPT-2 pretrained here), 'smollm2', or a Hugging Face LM "
                                      "id/path")
    tokenizer: str | None = option(None, help="tokenizer id/path, if not stored with the trunk")
    trunk_steps: int = option(2000, help="pretraining steps of the default trunk")
    trunk_lr: float = option(2e-3, help="peak learning rate of the trunk's pretraining")
    trunk_layers: int = option(2, help="layers of the default trunk")
    trunk_width: int = option(128, help="width of the default trunk")
    trunk_heads: int = option(4, help="attention heads of the default trunk")
    codes: int = option(64, help="K, the number of latent actions")
    width: int = option(0, help="IDM/policy head width (default: the trunk's)")
    idm_layers: int = option(2, help="layers of the inverse dynamics model")
    policy_layers: int = option(2, help="layers of the latent policy")
    heads: int = option(4, help="attention heads of the IDM and policy")
    merge_layers: int = option(2, help="layers merging a latent into the trunk state")
    context: int = option(256, help="max tokens of prompt + command")
    command_tokens: int = option(12, help="max tokens of a command, EOS included")
    explore: int = option(2, help="random admissible commands added to the corpus per gold state")
    tau: float = option(2.0, help="Gumbel-softmax temperature")
    entropy: float = option(1e-3, help="weight of the IDM entropy bonus")
    usage: float = option(0.0, help="weight of a bonus for the entropy of the batch's mean IDM distribution")

    def __post_init__(self) -> None:
        for name in ("steps", "batch_size", "eval_every"):
            check_integer(name, getattr(self, name), low=1)
        for name in ("lr", "tau"):
            check_positive(name, getattr(self, name))
        if self.explore < 0:
            raise ValueError(f"--explore must be 0 or more, got {self.explore}.")


def pretrain_trunk(trunk: torch.nn.Module, pad_id: int, data: Encoded, held_out: Encoded,
                   config: CoLAWorldModelTrainConfig, writer: Any, rng: random.Random) -> None:
    """Next-token prediction on the trajectory text (the default trunk only)."""
    trunk.train()
    optimizer = torch.optim.AdamW(trunk.parameters(), lr=config.trunk_lr, weight_decay=0.01)
    schedule = warmup_cosine(optimizer, config.trunk_steps, min(100, config.trunk_steps // 10))
    batches = endless_batches(data.lengths(), config.batch_size, rng)

    def loss_of(sequences: list[list[int]]) -> torch.Tensor:
        ids, mask = pad(sequences, pad_id, config.device)
        logits = trunk(input_ids=ids, attention_mask=mask).logits[:, :-1]
        valid = mask[:, 1:].bool()
        return F.cross_entropy(logits[valid], ids[:, 1:][valid])

    bar = tqdm(range(config.trunk_steps), desc="trunk", dynamic_ncols=True, disable=not config.progress)
    for step in bar:
        loss = loss_of([data.ids[i] for i in next(batches)])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(trunk.parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if logging_step(step, config.trunk_steps):
            loss_value = loss.item()
            bar.set_postfix(loss=f"{loss_value:.3f}")
            writer.add_scalar("trunk/loss", loss_value, step)
        if (step + 1) % config.eval_every == 0 or step + 1 == config.trunk_steps:
            trunk.eval()
            with torch.no_grad():
                losses = [loss_of(held_out.ids[i:i + config.batch_size]).item()
                          for i in range(0, len(held_out), config.batch_size)]
            writer.add_scalar("trunk/held_out_loss", sum(losses) / len(losses), step)
            trunk.train()


def train_cola_world_model(config: CoLAWorldModelTrainConfig) -> TrainedAgent:
    """Train the trunk (the default one) and the latent-action world model; saved in `config.out`."""
    started = time.perf_counter()
    rng = seed_everything(config.seed)
    out = Path(config.out)
    fmt = PromptFormat()
    cola = CoLAConfig(codes=config.codes, trunk=SAVED_TRUNK if config.trunk == DEFAULT else config.trunk,
                        width=config.width, idm_layers=config.idm_layers, policy_layers=config.policy_layers,
                        heads=config.heads, merge_layers=config.merge_layers, max_context=config.context,
                        max_command_tokens=config.command_tokens, prompt=fmt)
    examples = load_examples(config.data, fmt)
    if config.eval_data:
        train_examples, held_examples = examples, load_examples(config.eval_data, fmt, "held-out evaluation")
    else:
        train_examples, held_examples = split_episodes(examples, config.held_out, config.seed)
    if not held_examples:
        raise ValueError("No held-out episodes for the figures: pass --eval-data or a larger --held-out.")
    if config.explore:
        from textgym.agents.cola.explore import explore

        held = {(e.env_id, e.variation) for e in held_examples}
        train_examples += [e for e in explore(config.data, fmt, config.explore, config.seed)
                           if (e.env_id, e.variation) not in held]
    writer = config.writer()

    # 1. The trunk: pretrain our own, or load a pretrained one; then it stays frozen.
    if config.trunk == DEFAULT:
        from textgym.data.tokenizer import build_word_tokenizer

        check_integer("trunk_steps", config.trunk_steps, low=1)
        tokenizer = build_word_tokenizer((text for e in train_examples for text in (e.prompt, e.command)),
                                         model_max_length=config.context)
        trunk = new_trunk(tokenizer, layers=config.trunk_layers, width=config.trunk_width,
                          heads=config.trunk_heads, max_context=config.context).to(config.device)
    else:
        trunk, tokenizer = load_trunk(config.trunk, config.tokenizer, config.device)
    data = encode_examples(tokenizer, train_examples, config.context, config.command_tokens)
    held_out = encode_examples(tokenizer, held_examples, config.context, config.command_tokens)
    print(f"corpus: {len(data)} sequences, {data.tokens()} tokens; held out: {len(held_out)} sequences; "
          f"vocabulary {len(tokenizer)}")
    if config.trunk == DEFAULT:
        pretrain_trunk(trunk, tokenizer.pad_token_id, data, held_out, config, writer, rng)
    model = CoLAModel(trunk, tokenizer, cola).to(config.device)
    print(f"trunk: {sum(p.numel() for p in trunk.parameters()):,} parameters (frozen); world model + IDM: "
          f"{sum(p.numel() for p in model.world_model_parameters()):,} trainable")

    # 2. Latent actions: IDM labels -> world model predicts the token; trunk frozen.
    model.train()
    optimizer = torch.optim.AdamW(model.world_model_parameters(), lr=config.lr, weight_decay=0.0)
    schedule = warmup_cosine(optimizer, config.steps, min(100, config.steps // 10))
    batches = endless_batches(data.lengths(), config.batch_size, rng)
    for step in (bar := tqdm(range(config.steps), desc="world model", dynamic_ncols=True,
                             disable=not config.progress)):
        ids, mask = model.pad([data.ids[i] for i in next(batches)])
        states = model.states(ids, mask)
        valid = mask[:, 1:].bool()
        idm_logits = model.idm_logits(states)[valid]                      # (N, K)
        latents = F.gumbel_softmax(idm_logits, tau=config.tau, hard=True)   # one-hot, straight-through
        logits = model.world_logits(states[:, :-1][valid], latents)       # (N, V)
        reconstruction = F.cross_entropy(logits, ids[:, 1:][valid])
        probs = idm_logits.softmax(-1)
        negative_entropy = (probs * probs.clamp_min(1e-9).log()).sum(-1).mean()
        usage = probs.mean(0)
        negative_usage_entropy = (usage * usage.clamp_min(1e-9).log()).sum()
        loss = reconstruction + config.entropy * negative_entropy + config.usage * negative_usage_entropy
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.world_model_parameters(), 1.0)
        optimizer.step()
        schedule.step()
        if logging_step(step, config.steps):
            counts = torch.bincount(idm_logits.detach().argmax(-1), minlength=model.codes).float()
            used = counts[counts > 0] / counts.sum()
            perplexity = torch.exp(-(used * used.log()).sum())
            loss_value, entropy, perplexity = torch.stack(
                [reconstruction.detach(), -negative_entropy.detach(), perplexity]).tolist()
            bar.set_postfix(loss=f"{loss_value:.3f}", codes=f"{perplexity:.1f}")
            writer.add_scalar("world_model/reconstruction_loss", loss_value, step)
            writer.add_scalar("world_model/idm_entropy", entropy, step)
            writer.add_scalar("world_model/batch_code_perplexity", perplexity, step)
        if (step + 1) % config.eval_every == 0 and step + 1 < config.steps:
            log_figures(writer, "held_out", measure(model, held_out, config.batch_size), step)
            model.save(out)  # a checkpoint: an interrupted run still leaves a usable model

    figures = measure(model, held_out, config.batch_size)
    log_figures(writer, "held_out", figures, config.steps)
    writer.close()
    model.save(out)
    write_json_atomic(out / "metrics.json", {"stage": "world-model", **figures})
    print(format_figures(figures))
    print(f"saved the CoLA world model to {out}")
    steps = config.steps + (config.trunk_steps if config.trunk == DEFAULT else 0)
    return finish(model, out, out, config, steps=steps, unit="optimizer steps (trunk + world model)",
                  seconds=time.perf_counter() - started, data=config.data_record(), metrics=figures)


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
