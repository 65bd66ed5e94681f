"""`textgym train ALGO`: one trainer module per baseline, each a loop a reader can follow."""

from __future__ import annotations

import argparse

from textgym.cli import add_lazy_commands

TRAINERS: dict[str, tuple[str, str]] = {
    "bc": ("textgym.agents.seq2seq.train_bc", "behaviour cloning: a seq2seq LM on gold actions"),
    "subgoal": ("textgym.agents.seq2seq.train_subgoal",
                "sub-goal distillation: planner + executor seq2seq LMs"),
    "ppo": ("textgym.agents.ppo.train", "MaskablePPO (sb3-contrib) over candidate actions"),
    "drrn": ("textgym.agents.drrn.train", "DRRN: Q-learning over candidate actions"),
    "cola-world-model": ("textgym.agents.cola.train_world_model",
                         "CoLA stage 1: trunk, inverse dynamics and latent-conditioned world model"),
    "cola-policy": ("textgym.agents.cola.train_policy", "CoLA: behaviour-clone the latent policy"),
    "cola-rl": ("textgym.agents.cola.train_rl", "CoLA: RL on the latent policy with env reward"),
}


def configure(parser: argparse.ArgumentParser) -> None:
    add_lazy_commands(parser, TRAINERS, dest="algorithm")

