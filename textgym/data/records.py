"""The trajectory record format shared by `textgym data`, the imitation agents and CoLA.

A dataset directory holds JSON Lines files of *step records*, one command each, readable by
`datasets.load_dataset("json", data_files=...)` (`load_steps` does that). Gold data
(`textgym data gold`) writes `GoldStep`; sub-goal annotation (`textgym data annotate`) writes the
same records with the `AnnotatedStep` fields added. Episodes are the runs of records sharing
(`env_id`, `variation`), ordered by `step`.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any, TypedDict


class GoldStep(TypedDict):
    """One command of a replayed gold path, with what the agent saw before sending it."""

    env_id: str              # "ScienceWorld/boil-v0"
    task: str                # "boil"
    task_description: str    # the goal text (info["task"])
    variation: int
    split: str               # "train" | "dev" | "test"
    step: int                # 0-based index of the command in the episode
    observation: str         # the observation the command answers (the reset one at step 0)
    look: str                # look and inventory before the command
    inventory: str
    action: str              # the gold command
    next_observation: str
    reward: float            # score change caused by the command
    score: float             # score after it
    max_score: float
    moves: int               # the simulator's own move counter after it
    won: bool                # the episode is won after it
    done: bool               # the episode ended with it
    subgoals_completed: list[str]  # descriptions of the simulator sub-goals it completed
    valid_action_count: int  # admissible commands before it
    subgoals: list[dict[str, Any]]  # the simulator's sub-goal progress after it (`Subgoal.to_dict()`)


class AnnotatedStep(GoldStep):
    """A gold step placed in a sub-goal segment (every step is in exactly one)."""

    subgoal: str             # functional sub-goal of its segment, e.g. "navigate_to(kitchen)"
    segment: int             # 0-based index of the segment in the episode
    end_of_subgoal: bool     # last command of its segment (executors learn to emit END_SG here)
    annotator: str           # "progress" or "llm"
    repaired: bool           # the alignment had to repair this segment (LLM annotator)


def data_files(path: str | Path) -> list[str]:
    """The JSON Lines files of a dataset directory (or the file itself)."""
    path = Path(path)
    if path.is_file():
        return [str(path)]
    files = sorted(str(p) for p in path.rglob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"No .jsonl step files under {path}: build them with `textgym data gold`.")
    return files


def load_steps(path: str | Path) -> Any:
    """The step records under `path` as a `datasets.Dataset`, without the library's progress bars
    (local files load in a second; the bars would clutter training logs and `textgym bench`)."""
    from datasets import load_dataset
    from datasets.utils import logging

    shown = logging.is_progress_bar_enabled()
    logging.disable_progress_bar()
    try:
        return load_dataset("json", data_files=data_files(path), split="train")
    finally:
        if shown:
            logging.enable_progress_bar()


def episodes(rows: Iterable[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Group step records into episodes, each ordered by step (stable order of first appearance)."""
    grouped: dict[tuple[str, int], list[dict[str, Any]]] = {}
    for row in rows:
        grouped.setdefault((row["env_id"], row["variation"]), []).append(row)
    return [sorted(steps, key=lambda r: r["step"]) for steps in grouped.values()]
