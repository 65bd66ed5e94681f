"""How `textgym bench` trains its default agents at small scale, once, and caches them.

Each recipe takes a `BenchContext` (the protocol's env ids, device, seed) and a log function, and
returns the saved agent directory and a training record (seconds, data, model size). Results are
cached under `cache_dir()/bench/<protocol>-<envs digest>/<agent>/`; `--retrain` ignores them.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgym.baselines.protocols import Protocol
from textgym.cache import cache_dir, read_json, write_json_atomic

Log = Callable[[str], None]
RECORD_FILE = "train_record.json"


@dataclass(frozen=True)
class BenchContext:
    """What a recipe needs to know: the envs it will be evaluated on, the device and the seed."""

    protocol: Protocol
    env_ids: tuple[str, ...]
    device: str = "cpu"
    seed: int = 0
    retrain: bool = False

    @property
    def root(self) -> Path:
        digest = hashlib.sha1(",".join(self.env_ids).encode()).hexdigest()[:10]
        return cache_dir() / "bench" / f"{self.protocol.name}-{digest}"

    def cached(self, name: str, train: Callable[[Path], dict[str, Any]],
               log: Log) -> tuple[Path, dict[str, Any]]:
        """The agent `name` trained by `train(directory)`, trained now unless cached."""
        directory = self.root / name
        record = read_json(directory / RECORD_FILE)
        if record is not None and not self.retrain:
            log(f"{name}: cached default agent from {directory}")
            return directory, record
        log(f"{name}: training the default agent at small scale (cached afterwards in {directory})")
        started = time.perf_counter()
        record = train(directory)
        record["seconds"] = round(time.perf_counter() - started, 1)
        write_json_atomic(directory / RECORD_FILE, record)
        return directory, record
