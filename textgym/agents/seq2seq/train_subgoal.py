"""`textgym train subgoal`: distil a planner and an executor from sub-goal-annotated gold paths.

    textgym data gold --env ScienceWorld --out data/gold
    textgym data annotate data/gold --out data/annotated          # --annotator llm for the paper's way
    textgym data gold --env ScienceWorld --split dev --max-variations-per-task 4 --out data/gold-dev
    textgym data annotate data/gold-dev --out data/annotated-dev
    textgym train subgoal --data data/annotated --dev-data data/annotated-dev --out runs/subgoal
    textgym eval --agent runs/subgoal --protocol quick

The two models are trained one after the other with the same settings, each with its checkpoint
picked on its own dev loss. From Python: `train_subgoal(SubgoalConfig(...))` returns the agent.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

from textgym.agents.seq2seq.prompts import subgoal_examples
from textgym.agents.seq2seq.subgoal import SubgoalAgent
from textgym.agents.seq2seq.training import (
    TrainConfig,
    add_arguments,
    build_lm,
    config_kwargs,
    fit,
    load_episodes,
    start,
    write_summary,
)


@dataclass
class SubgoalConfig(TrainConfig):
    """`TrainConfig` plus the agent's `max_subgoal_ends` (END_SG rounds allowed per command)."""

    max_subgoal_ends: int = 2


def train_subgoal(config: SubgoalConfig) -> SubgoalAgent:
    """Train the planner and the executor on `config.data`, save the agent to `config.out`, return it."""
    out, writer = start(config)
    train_episodes, dev_episodes = load_episodes(config, annotated=True)
    train = [subgoal_examples(episode, config.prompt) for episode in train_episodes]
    dev = [subgoal_examples(episode, config.prompt) for episode in dev_episodes]
    models, results = {}, []
    for index, name in enumerate(("planner", "executor")):
        train_examples = [example for pair in train for example in pair[index]]
        dev_examples = [example for pair in dev for example in pair[index]]
        models[name], result = fit(build_lm(config, train_examples), train_examples, dev_examples, config,
                                   name, out, writer)
        results.append(result)
    writer.close()
    agent = SubgoalAgent(**models, prompt=config.prompt, num_beams=config.num_beams,
                         similarity=config.similarity, max_subgoal_ends=config.max_subgoal_ends,
                         device=config.device)
    agent.save(out)
    write_summary(out, config, results)
    return agent


def configure(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)
    parser.add_argument("--max-subgoal-ends", type=int, default=2,
                        help="END_SG rounds the executor may take before each command (default: 2)")


def run(args: argparse.Namespace) -> int:
    config = SubgoalConfig(**config_kwargs(args), max_subgoal_ends=args.max_subgoal_ends)
    train_subgoal(config)
    print(f"sub-goal agent saved to {config.out} (evaluate it with `textgym eval --agent {config.out}`)")
    return 0
