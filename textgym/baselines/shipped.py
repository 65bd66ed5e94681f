"""Trained default agents that ship inside textgym, so a bench run evaluates them instead of training.

Like the RL Zoo's trained agents: `trained/<protocol>-<envs digest>/<agent>/` holds one agent that
its bench recipe trained (the folder name is the bench cache's, `BenchContext.root.name`, which
keys the protocol, its env set, the training seed and `--train-scale`), with its
`train_record.json` (the command that repeats it, budget, seconds, versions, metrics) next to the
saved agent folder the record names. Only the record and that folder are shipped, not the
checkpoints or the data, and all of `trained/` stays under `SIZE_BUDGET_BYTES`.

`textgym bench` looks here first (`BenchContext.cached`), then in the cache, and trains only when
neither has the agent; `--retrain` ignores both; `--ship` copies the agent it used into this folder
(how the shipped agents were made: `textgym bench --protocol paper --agents bc --train-only --ship`).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

from textgym.agents.common.record import RECORD_FILE
from textgym.cache import read_json, write_json_atomic

SHIPPED_DIR = Path(__file__).parent / "trained"
SIZE_BUDGET_BYTES = 100 * 1024 ** 2  # what the repository may hold in trained agents (issue 13)
NOT_SHIPPED = ("checkpoints", "tensorboard", RECORD_FILE)
"""What a trainer may leave in the agent's own folder (the BC trainer saves the agent in its run
folder) that the agent does not need: the shipped record sits one level up."""


def shipped_agent(key: str, name: str, root: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """(the shipped agent's folder, its training record) for bench cache key `key` (in `root`,
    default `SHIPPED_DIR`), or None.

    A record whose agent folder is missing is an error, not a silent retrain: the shipped copy is
    broken and should be fixed or removed."""
    directory = (root or SHIPPED_DIR) / key / name
    record = read_json(directory / RECORD_FILE)
    if record is None:
        return None
    agent = directory / record["agent"]
    if not (agent / "agent.json").is_file():
        raise FileNotFoundError(f"The shipped {name} agent {directory} has a training record but no saved "
                                f"agent in {agent}; restore it or delete {directory}.")
    return agent, record


def ship(agent: Path, record: dict[str, Any], key: str, name: str, root: Path | None = None) -> Path:
    """Copy a trained agent's folder and its record into `root/key/name` (`root` defaults to
    `SHIPPED_DIR`; what was there is replaced) and return the shipped agent's folder. Refuses a copy
    that would put `root` over the budget."""
    root = root or SHIPPED_DIR
    if not (agent / "agent.json").is_file():
        raise FileNotFoundError(f"{agent} is not a saved agent (no agent.json).")
    target = root / key / name
    if agent.resolve().is_relative_to(target.resolve()):
        return agent  # already the shipped copy
    added = folder_bytes(agent) - sum(folder_bytes(agent / name) for name in NOT_SHIPPED)
    others = folder_bytes(root) - (folder_bytes(target) if target.exists() else 0)
    if others + added > SIZE_BUDGET_BYTES:
        raise ValueError(f"Shipping {name} ({added / 2**20:.1f} MB) would put {root} at "
                         f"{(others + added) / 2**20:.1f} MB, over its "
                         f"{SIZE_BUDGET_BYTES / 2**20:.0f} MB budget.")
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(agent, target / agent.name, ignore=shutil.ignore_patterns(*NOT_SHIPPED))
    write_json_atomic(target / RECORD_FILE, {**record, "agent": agent.name})
    return target / agent.name


def folder_bytes(folder: Path) -> int:
    """Bytes of `folder`, a file or every file under a folder (0 if it does not exist)."""
    if folder.is_file():
        return folder.stat().st_size
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file()) if folder.exists() else 0
