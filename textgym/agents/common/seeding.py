"""One seeding for every trainer."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int, threads: int | None = None) -> random.Random:
    """Seed Python, numpy and torch (and set torch's CPU threads when given); return a Python RNG
    for the trainer's own draws (batch order, held-out episodes)."""
    if threads:
        torch.set_num_threads(threads)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return random.Random(seed)
