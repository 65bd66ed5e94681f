"""What every trainer returns (`TrainedAgent`) and the training record it writes.

Every `train_<agent>(config)` writes `OUT/train_record.json` with the same keys: `agent` (where
the saved agent is, relative to OUT: `textgym eval --agent OUT/AGENT`), `command` (the
`textgym train ...` line that repeats the run), `budget` (`steps` and their `unit`), `seconds`,
`data` (the data or envs it trained on), `seed`, `versions` (every library version, Python, the
OS, Java and the accelerator) and `metrics` (the trainer's own figures). The bench caches its
default agents by this file.
"""

from __future__ import annotations

import importlib.metadata
import os
import platform
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgym.agents.common.config import command_line
from textgym.cache import write_json_atomic

RECORD_FILE = "train_record.json"
RECORD_KEYS = ("agent", "command", "budget", "seconds", "data", "seed", "versions", "metrics")
_PACKAGES = ("textgym", "scienceworld", "textworld-express", "textworld", "gymnasium", "numpy", "torch",
             "transformers", "tokenizers", "stable-baselines3", "sb3-contrib", "ray", "py4j")


@dataclass
class TrainedAgent:
    """A trainer's result: the trained agent (the CoLA world-model stage returns its `CoLAModel`),
    the folder it is saved in, and the training record (see the module docstring)."""

    agent: Any
    directory: Path
    record: dict[str, Any]


def versions() -> dict[str, str]:
    """Every library version a run depends on, plus Python, the OS, Java and the accelerator."""
    found = {"python": platform.python_version(), "platform": platform.platform()}
    for package in _PACKAGES:
        try:
            found[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            found[package] = "not installed"
    found["java"] = os.environ.get("JAVA_HOME", "") or "java on PATH"
    try:
        import torch

        found["accelerator"] = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "none (CPU)"
    except ImportError:
        found["accelerator"] = "unknown (no torch)"
    return found


def finish(agent: Any, out: str | Path, directory: str | Path, config: Any, *, steps: int, unit: str,
           seconds: float, data: dict[str, Any], metrics: dict[str, Any]) -> TrainedAgent:
    """Write the training record of a run into `out` and return the `TrainedAgent` (the agent is
    saved in `directory`, inside `out`)."""
    out, directory = Path(out), Path(directory)
    record = {"agent": os.path.relpath(directory, out),
              "command": command_line(f"train {config.command}", config),
              "budget": {"steps": int(steps), "unit": unit}, "seconds": round(seconds, 1), "data": data,
              "seed": config.seed, "versions": versions(), "metrics": metrics}
    write_json_atomic(out / RECORD_FILE, record)
    return TrainedAgent(agent, directory, record)

