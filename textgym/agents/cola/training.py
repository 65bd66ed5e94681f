"""The settings the three CoLA trainers share (the loops' shared pieces are `textgym.agents.common`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgym.agents.common.config import option
from textgym.agents.common.logs import summary_writer

LOG_EVERY = 20
"""Optimizer steps between training-loss logs: reading a loss waits for the device, so not every step."""


def logging_step(step: int, steps: int) -> bool:
    """Whether to read and log this step's losses (every `LOG_EVERY` steps, and the last one)."""
    return (step + 1) % LOG_EVERY == 0 or step + 1 == steps


@dataclass(kw_only=True)
class CoLATrainConfig:
    """Where a CoLA trainer writes, on what device, with which seed."""

    out: str = option(help="folder to write the model (and its logs) to")
    device: str = option("cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    seed: int = option(0, help="seed of the initialisation, the batches and the sampling")
    tensorboard: str | None = option(None, help="TensorBoard folder (default: OUT/tensorboard)")
    progress: bool = option(True, flag="--quiet", help="no progress bars")

    def writer(self) -> Any:
        return summary_writer(self.tensorboard or Path(self.out) / "tensorboard")


@dataclass(kw_only=True)
class CoLAImitationConfig(CoLATrainConfig):
    """The two stages trained on gold steps: their data and optimisation."""

    data: str = option(help="step records from `textgym data gold` (a folder or a .jsonl file)")
    eval_data: str | None = option(None, help="held-out step records for the figures (default: a part of "
                                              "--data)")
    held_out: float = option(0.1, help="fraction of episodes held out when there is no --eval-data")
    steps: int = option(2000, help="optimizer steps")
    lr: float = option(1e-3, help="peak learning rate")
    batch_size: int = option(32, help="sequences per step")
    eval_every: int = option(500, help="steps between held-out figures")

    def data_record(self) -> dict[str, Any]:
        """The `data` of the training record."""
        return {"data": self.data, "eval_data": self.eval_data, "held_out": self.held_out}
