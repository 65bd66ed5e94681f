"""`textgym train bc`: behaviour cloning of gold commands with a seq2seq LM (the paper's baseline).

    textgym data gold --env ScienceWorld --out data/gold
    textgym data gold --env ScienceWorld --split dev --max-variations-per-task 4 --out data/gold-dev
    textgym train bc --data data/gold --dev-data data/gold-dev --out runs/bc
    textgym eval --agent runs/bc --protocol quick

From Python: `train_bc(BCTrainConfig(data=..., dev_data=..., out=...))` returns a `TrainedAgent`
(the `BCAgent`, its folder and the training record).
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from textgym.agents.common.record import TrainedAgent
from textgym.agents.seq2seq.bc import BCAgent
from textgym.agents.seq2seq.prompts import bc_examples
from textgym.agents.seq2seq.training import (
    Seq2SeqTrainConfig,
    build_lm,
    finish_training,
    fit,
    load_episodes,
    start,
)


@dataclass(kw_only=True)
class BCTrainConfig(Seq2SeqTrainConfig):
    """Settings of `textgym train bc` (all of them `Seq2SeqTrainConfig`'s)."""

    command: ClassVar[str] = "bc"


def train_bc(config: BCTrainConfig) -> TrainedAgent:
    """Train a BC agent on `config.data`; it is saved in `config.out`."""
    started = time.perf_counter()
    out, writer = start(config)
    train_episodes, dev_episodes = load_episodes(config, annotated=False)
    train = [example for episode in train_episodes for example in bc_examples(episode, config.prompt)]
    dev = [example for episode in dev_episodes for example in bc_examples(episode, config.prompt)]
    lm, result = fit(build_lm(config, train), train, dev, config, "model", out, writer)
    writer.close()
    agent = BCAgent(lm, prompt=config.prompt, num_beams=config.num_beams, similarity=config.similarity,
                    device=config.device)
    return finish_training(agent, config, out, [result], started)
