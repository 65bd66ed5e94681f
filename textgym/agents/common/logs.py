"""Training logs: the TensorBoard writer, figures under a prefix, and the log of finished training
episodes (`episodes.csv`, one row per episode: env step, seconds, score, normalized score 0-100
with a negative score counted as 0 as in the evaluation protocols, won, length)."""

from __future__ import annotations

import csv
import time
from pathlib import Path
from typing import Any

from textgym.evaluation.protocols import normalized_score


def summary_writer(folder: str | Path) -> Any:
    """A TensorBoard `SummaryWriter` on `folder` (imported only when a trainer runs)."""
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder))


def log_figures(writer: Any, prefix: str, figures: dict[str, float], step: int) -> None:
    for key, value in figures.items():
        writer.add_scalar(f"{prefix}/{key}", value, step)


class EpisodeLog:
    """Finished training episodes to `episodes.csv` and TensorBoard (`charts/episode_score`, ...)."""

    FIELDS = ("step", "seconds", "score", "normalized", "won", "length")

    def __init__(self, out: Path, writer: Any) -> None:
        self.writer = writer
        self.started = time.perf_counter()
        self._file = open(out / "episodes.csv", "w", newline="")  # noqa: SIM115 - closed by close()
        self._csv = csv.writer(self._file)
        self._csv.writerow(self.FIELDS)
        self.scores: list[float] = []

    def add(self, step: int, info: dict[str, Any], length: int) -> None:
        score = float(info["score"])
        normalized = normalized_score(score, info["max_score"])
        self.scores.append(normalized)
        self._csv.writerow((step, round(time.perf_counter() - self.started, 2), score, round(normalized, 3),
                            int(bool(info["won"])), length))
        self._file.flush()
        self.writer.add_scalar("charts/episode_score", normalized, step)
        self.writer.add_scalar("charts/episode_length", length, step)

    def recent(self, n: int = 20) -> float:
        """Mean normalized score of the last `n` episodes (nan before the first)."""
        tail = self.scores[-n:]
        return sum(tail) / len(tail) if tail else float("nan")

    def close(self) -> None:
        self._file.close()
