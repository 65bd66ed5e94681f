"""`textgym train bc`: behaviour cloning of gold commands with a seq2seq LM (the paper's baseline).

    textgym data gold --env ScienceWorld --out data/gold
    textgym data gold --env ScienceWorld --split dev --max-variations-per-task 4 --out data/gold-dev
    textgym train bc --data data/gold --dev-data data/gold-dev --out runs/bc
    textgym eval --agent runs/bc --protocol quick

From Python: `train_bc(TrainConfig(data=..., dev_data=..., out=...))` returns the trained `BCAgent`.
"""

from __future__ import annotations

import argparse

from textgym.agents.seq2seq.bc import BCAgent
from textgym.agents.seq2seq.prompts import bc_examples
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


def train_bc(config: TrainConfig) -> BCAgent:
    """Train a BC agent on `config.data`, save it to `config.out` and return it."""
    out, writer = start(config)
    train_episodes, dev_episodes = load_episodes(config, annotated=False)
    train = [example for episode in train_episodes for example in bc_examples(episode, config.prompt)]
    dev = [example for episode in dev_episodes for example in bc_examples(episode, config.prompt)]
    lm, result = fit(build_lm(config, train), train, dev, config, "model", out, writer)
    writer.close()
    agent = BCAgent(lm, prompt=config.prompt, num_beams=config.num_beams, similarity=config.similarity,
                    device=config.device)
    agent.save(out)
    write_summary(out, config, [result])
    return agent


def configure(parser: argparse.ArgumentParser) -> None:
    add_arguments(parser)


def run(args: argparse.Namespace) -> int:
    config = TrainConfig(**config_kwargs(args))
    train_bc(config)
    print(f"BC agent saved to {config.out} (evaluate it with `textgym eval --agent {config.out}`)")
    return 0
