"""Small pieces the three CoLA trainers share: options, seeding, schedules, batches, logs."""

from __future__ import annotations

import argparse
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textgym.agents.cola.text import Encoded, batches

LOG_EVERY = 20
"""Optimizer steps between training-loss logs: reading a loss waits for the device, so not every step."""


def logging_step(step: int, steps: int) -> bool:
    """Whether to read and log this step's losses (every `LOG_EVERY` steps, and the last one)."""
    return (step + 1) % LOG_EVERY == 0 or step + 1 == steps


def add_common_arguments(parser: argparse.ArgumentParser, steps: int, lr: float) -> None:
    """--out, --steps, --lr, --batch-size, --device, --seed, --tensorboard, --quiet."""
    parser.add_argument("--out", required=True, help="folder to write the model (and its logs) to")
    parser.add_argument("--steps", type=int, default=steps, help=f"optimizer steps (default: {steps})")
    parser.add_argument("--lr", type=float, default=lr, help=f"peak learning rate (default: {lr})")
    parser.add_argument("--batch-size", type=int, default=32, help="sequences per step (default: 32)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--seed", type=int, default=0, help="default: %(default)s")
    parser.add_argument("--tensorboard", default=None, help="TensorBoard folder (default: OUT/tensorboard)")
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def add_data_arguments(parser: argparse.ArgumentParser) -> None:
    """--data, --eval-data, --held-out."""
    parser.add_argument("--data", required=True,
                        help="step records from `textgym data gold` (a folder or a .jsonl file)")
    parser.add_argument("--eval-data", default=None,
                        help="held-out step records for the figures (default: a part of --data)")
    parser.add_argument("--held-out", type=float, default=0.1,
                        help="fraction of episodes held out when there is no --eval-data (default: 0.1)")


def check_positive(args: argparse.Namespace, *names: str) -> None:
    for name in names:
        if getattr(args, name) <= 0:
            raise ValueError(f"--{name.replace('_', '-')} must be positive, got {getattr(args, name)}.")


def seed_everything(seed: int) -> random.Random:
    """Seed Python, numpy and torch; return a Python RNG for batch order."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return random.Random(seed)


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int, warmup: int = 100,
                  floor: float = 0.1) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up, then cosine decay to `floor` times the peak rate."""
    warmup = min(warmup, max(steps // 10, 1))

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        progress = min((step - warmup) / max(steps - warmup, 1), 1.0)
        return floor + (1 - floor) * 0.5 * (1 + np.cos(np.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def endless_batches(data: Encoded, batch_size: int, rng: random.Random) -> Iterator[list[int]]:
    """Shuffled, length-grouped index batches, epoch after epoch."""
    while True:
        yield from batches(data, batch_size, rng)


def summary_writer(args: argparse.Namespace) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(args.tensorboard or str(Path(args.out) / "tensorboard"))


def log_figures(writer: Any, prefix: str, figures: dict[str, float], step: int) -> None:
    for key, value in figures.items():
        writer.add_scalar(f"{prefix}/{key}", value, step)


def write_json(path: Path, obj: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj, indent=2))
