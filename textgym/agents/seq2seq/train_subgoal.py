"""`textgym train subgoal`: distil a planner and an executor from sub-goal-annotated gold paths.

    textgym data gold --env ScienceWorld --out data/gold
    textgym data annotate data/gold --out data/annotated          # --annotator llm for the paper's way
    textgym data gold --env ScienceWorld --split dev --max-variations-per-task 4 --out data/gold-dev
    textgym data annotate data/gold-dev --out data/annotated-dev
    textgym train subgoal --data data/annotated --dev-data data/annotated-dev --out runs/subgoal
    textgym eval --agent runs/subgoal --protocol quick

The two models are trained one after the other with the same settings, each with its checkpoint
picked on its own dev loss. From Python: `train_subgoal(SubgoalTrainConfig(...))` returns a
`TrainedAgent`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import ClassVar

from textgym.agents.common.config import option
from textgym.agents.common.record import TrainedAgent
from textgym.agents.seq2seq.prompts import subgoal_examples
from textgym.agents.seq2seq.subgoal import SubgoalAgent
from textgym.agents.seq2seq.training import (
    Seq2SeqTrainConfig,
    build_lm,
    finish_training,
    fit,
    load_episodes,
    start,
)


@dataclass(kw_only=True)
class SubgoalTrainConfig(Seq2SeqTrainConfig):
    """Settings of `textgym train subgoal`: `Seq2SeqTrainConfig`'s plus the agent's `max_subgoal_ends`."""

    command: ClassVar[str] = "subgoal"
    max_subgoal_ends: int = option(2, help="END_SG rounds the executor may take before each command")


def train_subgoal(config: SubgoalTrainConfig) -> TrainedAgent:
    """Train the planner and the executor on `config.data`; the agent is saved in `config.out`."""
    started = time.perf_counter()
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
    return finish_training(agent, config, out, results, started)
