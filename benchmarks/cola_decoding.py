"""CoLA decoding speed: generated tokens per second with and without the KV caches, per task.

    python benchmarks/cola_decoding.py [--agent runs/cola-bc] [--trunk default|smollm2] \\
        [--env ScienceWorld/find-living-thing-v0 ...] [--prompts 8] [--batch 8] [--repeats 3] [--threads 1]

What is measured: `CoLAModel.generate` on real prompts (the task, no history, and the first
observation of `--prompts` dev variations of each env), in batches of `--batch`, latents sampled
from the policy with fixed uniforms (what `CoLAAgent(sampling="sample")` does), up to the model's
`max_command_tokens`. "Before" is `use_cache=False`: every token re-runs the trunk and the policy
head over the whole context, as `generate` did before it kept caches; "after" is the default,
which reads each context once and then one token per step. Both sides run in the same process,
interleaved, best of `--repeats`, and must write the same commands (checked). Without `--agent`
the model is an untrained one of the default size (our GPT-2 trunk 2 x 128, K = 64, heads 2 x 128,
or the frozen SmolLM2-135M with `--trunk smollm2`): speed does not depend on training, except
that untrained commands rarely stop before the token cap.

Prints, per env, tokens/s before and after and their ratio, then the aggregate ratio (all tokens
over all time) next to the worst env's.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import gymnasium as gym
import torch

import textgym  # noqa: F401  (registers the envs)
from textgym.agents.cola import CoLAConfig, CoLAModel, PromptFormat, load_trunk, new_trunk
from textgym.agents.cola.agent import pick_latents
from textgym.data.tokenizer import build_word_tokenizer
from textgym.evaluation.protocols import get_protocol


def first_observations(env_id: str, count: int) -> list[tuple[str, str]]:
    """(task, observation) of the first `count` dev variations of `env_id` (easy)."""
    env = gym.make(env_id, split="dev", simplification="easy")
    try:
        variations = env.unwrapped.variations("dev")[:count]
        pairs = []
        for variation in variations:
            observation, info = env.reset(options={"variation": variation})
            pairs.append((info["task"], observation))
        return pairs
    finally:
        env.close()


def build_model(args: argparse.Namespace, texts: list[str]) -> CoLAModel:
    if args.agent:
        return CoLAModel.load(args.agent, device=args.device)
    if args.trunk == "smollm2":
        trunk, tokenizer = load_trunk("smollm2", device=args.device)
        config = CoLAConfig(trunk="smollm2")
    else:
        tokenizer = build_word_tokenizer(texts, model_max_length=256)
        trunk, config = new_trunk(tokenizer, layers=2, width=128, heads=4), CoLAConfig()
    torch.manual_seed(0)
    return CoLAModel(trunk, tokenizer, config).to(args.device).eval()


def timed(model: CoLAModel, batches: list[list[list[int]]], use_cache: bool,
          uniforms: list[torch.Tensor]) -> tuple[float, int, list[list[int]]]:
    """(seconds, generated tokens, the commands' tokens) for one pass over the batches."""
    commands: list[list[int]] = []
    start = time.perf_counter()
    for prompts, draws in zip(batches, uniforms, strict=True):
        def choose(logits: torch.Tensor, tokens: torch.Tensor, step: int,
                   draws: torch.Tensor = draws) -> torch.Tensor:
            return pick_latents(logits.log_softmax(-1), tokens, "sample", 0, draws[:, step])

        commands += [g.tokens for g in model.generate(prompts, choose, use_cache=use_cache)]
    if model.device.type == "cuda":
        torch.cuda.synchronize(model.device)
    return time.perf_counter() - start, sum(len(c) for c in commands), commands


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", default=None, help="a CoLA folder (default: an untrained model)")
    parser.add_argument("--trunk", default="default", choices=["default", "smollm2"],
                        help="trunk of the untrained model (default: %(default)s)")
    parser.add_argument("--env", action="append", default=None,
                        help="env id (repeat; default: the quick protocol's 4 tasks)")
    parser.add_argument("--prompts", type=int, default=8, help="dev variations per env (default: 8)")
    parser.add_argument("--batch", type=int, default=8, help="prompts per generate call (default: 8)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N passes (default: 3)")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (default: torch's own; 1 is steadier on a shared machine)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    envs = args.env or list(get_protocol("quick").env_ids)
    observed = {env_id: first_observations(env_id, args.prompts) for env_id in envs}
    fmt = PromptFormat()
    texts = [fmt.prompt(task, [], observation) for pairs in observed.values() for task, observation in pairs]
    model = build_model(args, texts)
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
          f"torch {torch.__version__} with {torch.get_num_threads()} threads, device {args.device}; "
          f"trunk {type(model.trunk).__name__} {sum(p.numel() for p in model.trunk.parameters()):,} "
          f"parameters, K={model.codes}, cap {model.config.max_command_tokens} tokens")
    print(f"{'env':45s} {'tokens':>6s} {'before tok/s':>12s} {'after tok/s':>12s} {'ratio':>6s}")
    generator = torch.Generator().manual_seed(0)
    totals = {False: 0.0, True: 0.0}
    all_tokens, ratios = 0, {}
    for env_id, pairs in observed.items():
        prompts = [model.encode_prompt(fmt.prompt(task, [], observation)) for task, observation in pairs]
        batches = [prompts[i:i + args.batch] for i in range(0, len(prompts), args.batch)]
        uniforms = [torch.rand(len(b), model.config.max_command_tokens, generator=generator).to(model.device)
                    for b in batches]
        best = {False: float("inf"), True: float("inf")}
        outputs = {}
        for _ in range(args.repeats):
            for use_cache in (False, True):
                seconds, tokens, outputs[use_cache] = timed(model, batches, use_cache, uniforms)
                best[use_cache] = min(best[use_cache], seconds)
        if outputs[False] != outputs[True]:
            raise SystemExit(f"{env_id}: the cached and uncached paths wrote different commands")
        for use_cache in (False, True):
            totals[use_cache] += best[use_cache]
        all_tokens += tokens
        ratios[env_id] = best[False] / best[True]
        print(f"{env_id:45s} {tokens:6d} {tokens / best[False]:12.1f} {tokens / best[True]:12.1f} "
              f"{ratios[env_id]:5.2f}x")
    worst = min(ratios, key=ratios.get)
    print(f"{'all':45s} {all_tokens:6d} {all_tokens / totals[False]:12.1f} {all_tokens / totals[True]:12.1f} "
          f"{totals[False] / totals[True]:5.2f}x  (worst: {ratios[worst]:.2f}x on {worst})")
    print("identical commands with and without the cache: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
