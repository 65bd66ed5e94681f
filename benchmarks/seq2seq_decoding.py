"""Beam-search speed of the seq2seq agents (BC, sub-goal): textgym's `Seq2SeqLM.generate` against
stock `transformers` `generate`, per task, on the prompts a trained agent really sends.

    python benchmarks/seq2seq_decoding.py --agent DIR [--steps 30] [--envs 4] [--repeats 3] [--threads 1]

What is measured: the agent (a saved BC or sub-goal folder; `textgym bench` caches its default ones
under `$TEXTGYM_CACHE_DIR/bench/<protocol>-<key>/`) plays the first `--envs` test variations of
each of the `quick` protocol's tasks side by side (as `textgym bench` batches them) for `--steps`
commands, and every batch of prompts it hands its models is
recorded. Each batch is then decoded again, interleaved, best of `--repeats`: "stock" is
`model.generate` with the agent's settings (its beams, `max_new_tokens`, `early_stopping`), which
reorders the whole encoder-decoder cache after every token; "textgym" is `Seq2SeqLM.generate`,
whose cache skips reordering the cross-attention half (one copy of the encoder output per beam of
a prompt, so the reorder copies identical rows). The beams of both must be identical (checked).

Prints, per task, milliseconds per generate call for both and their ratio, then the aggregate
(all calls over all time) next to the worst task's. `--threads` sets torch's CPU threads (the
bench evaluates with 1; run with 2 to see what a second thread buys next to nothing else).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import platform
import time

import torch

import textgym  # noqa: F401  (registers the envs)
from textgym.agents import load_agent
from textgym.evaluation.evaluate import evaluate, protocol_episodes
from textgym.evaluation.protocols import get_protocol


def record_prompts(agent, env_id: str, steps: int, envs: int) -> list[tuple[object, list[str]]]:
    """(model, prompts) of every generate call the agent makes playing `envs` episodes of `env_id`
    side by side for `steps` commands."""
    calls = []
    for lm in agent.models().values():
        def recording(prompts, num_beams=5, max_new_tokens=24, lm=lm, generate=lm.generate):
            calls.append((lm, list(prompts)))
            return generate(prompts, num_beams=num_beams, max_new_tokens=max_new_tokens)

        lm.generate = recording
    specs = protocol_episodes(get_protocol("quick"), [env_id], variations_per_task=envs)
    evaluate(agent, [dataclasses.replace(spec, max_steps=steps) for spec in specs], num_envs=envs)
    for lm in agent.models().values():
        del lm.generate  # back to the class's method
    return calls


def stock_generate(lm, prompts: list[str], num_beams: int, max_new_tokens: int) -> list[list[str]]:
    """What `Seq2SeqLM.generate` did before its cache: `transformers`' own, nothing passed in."""
    with torch.inference_mode():
        lm.model.eval()
        out = lm.model.generate(**lm.encode(prompts), num_beams=num_beams, num_return_sequences=num_beams,
                                max_new_tokens=max_new_tokens, do_sample=False, early_stopping=True)
    texts = [" ".join(t.split()) for t in lm.tokenizer.batch_decode(out, skip_special_tokens=True)]
    return [texts[i * num_beams:(i + 1) * num_beams] for i in range(len(prompts))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--agent", required=True, help="a saved BC or sub-goal agent folder")
    parser.add_argument("--steps", type=int, default=30, help="commands played per task (default: 30)")
    parser.add_argument("--envs", type=int, default=4, help="episodes side by side (default: 4)")
    parser.add_argument("--repeats", type=int, default=3, help="best of N passes (default: 3)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    agent = load_agent(args.agent)
    if not hasattr(agent, "models"):
        raise SystemExit(f"{args.agent} is a {type(agent).__name__}, not a seq2seq agent (BC or sub-goal).")
    beams, tokens = agent.num_beams, agent.max_new_tokens
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores, torch "
          f"{torch.__version__} with {torch.get_num_threads()} threads; agent {agent.name} ({args.agent}), "
          f"{beams} beams, up to {tokens} tokens; {args.envs} episodes x {args.steps} commands per task, "
          f"best of {args.repeats}")
    print(f"{'env':52s} {'calls':>5s} {'stock ms':>9s} {'textgym ms':>10s} {'ratio':>6s}")
    totals, calls_in_all, ratios = {"stock": 0.0, "textgym": 0.0}, 0, {}
    for env_id in get_protocol("quick").env_ids:
        calls = record_prompts(agent, env_id, args.steps, args.envs)
        best = {"stock": float("inf"), "textgym": float("inf")}
        for _ in range(args.repeats):
            for side in best:
                started = time.perf_counter()
                outputs = [stock_generate(lm, prompts, beams, tokens) if side == "stock"
                           else lm.generate(prompts, num_beams=beams, max_new_tokens=tokens)
                           for lm, prompts in calls]
                best[side] = min(best[side], time.perf_counter() - started)
                if side == "stock":
                    expected = outputs
                elif outputs != expected:
                    raise SystemExit(f"{env_id}: textgym's beams differ from stock generate's")
        for side in best:
            totals[side] += best[side]
        calls_in_all += len(calls)
        ratios[env_id] = best["stock"] / best["textgym"]
        print(f"{env_id:52s} {len(calls):5d} {1000 * best['stock'] / len(calls):9.1f} "
              f"{1000 * best['textgym'] / len(calls):10.1f} {ratios[env_id]:5.2f}x")
    worst = min(ratios, key=ratios.get)
    print(f"{'all':52s} {calls_in_all:5d} {1000 * totals['stock'] / calls_in_all:9.1f} "
          f"{1000 * totals['textgym'] / calls_in_all:10.1f} {totals['stock'] / totals['textgym']:5.2f}x"
          f"  (worst: {ratios[worst]:.2f}x on {worst})")
    print("identical beams: yes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
