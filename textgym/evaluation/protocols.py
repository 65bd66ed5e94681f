"""Named evaluation protocols, so that numbers from different agents and papers are comparable.

A protocol fixes the envs, the split, which variations (the first N of the split), the agent-step
limit, the env settings and how a score is counted (0-100, a negative final score counts as 0).

    >>> PROTOCOLS["swiftsage"].variations_per_task
    3
    >>> len(PROTOCOLS["paper"].env_ids)
    30
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from textgym.envs.scienceworld import TASKS


@dataclass(frozen=True)
class Protocol:
    """An evaluation protocol.

    Attributes:
        name: its name on the command line.
        description: one line for tables and `--help`.
        env_ids: the envs, in table order.
        split: where the variations come from.
        variations_per_task: the first N variations of the split (None: all of them).
        max_steps: agent commands per episode.
        make_kwargs: extra `gym.make` keywords per family (e.g. ScienceWorld's simplification).
        source: where the protocol comes from.
    """

    name: str
    description: str
    env_ids: tuple[str, ...]
    split: str = "test"
    variations_per_task: int | None = None
    max_steps: int = 100
    make_kwargs: dict[str, dict[str, Any]] = field(default_factory=dict)
    source: str = ""

    def descriptor(self, seeds: int = 1) -> dict[str, Any]:
        """The protocol in the fields `reference_scores.json` records for every published number,
        so that a reference is shown beside ours only when every field matches (see
        `textgym.baselines.references`). `seeds`: training seeds averaged."""
        families = sorted({env_id.split("/", 1)[0] for env_id in self.env_ids})
        simplification = self.make_kwargs.get("ScienceWorld", {}).get("simplification", "none")
        return {
            "env": f"{', '.join(families)} ({len(self.env_ids)} tasks)",
            "split": self.split,
            "variations": "all" if self.variations_per_task is None else f"first {self.variations_per_task}",
            "seeds": seeds,
            "max_steps": self.max_steps,
            "simplification": simplification,
            "episodes": "one episode per variation, negative scores as 0",
        }

    def kwargs_for(self, env_id: str) -> dict[str, Any]:
        """`gym.make` keywords of this protocol for `env_id`."""
        family = env_id.split("/", 1)[0]
        return {"split": self.split, **self.make_kwargs.get(family, {})}


_SCIENCEWORLD_ALL = tuple(f"ScienceWorld/{task}-v0" for task in TASKS)
_EASY = {"ScienceWorld": {"simplification": "easy"}}
_QUICK_TASKS = tuple(f"ScienceWorld/{task}-v0" for task in (
    "find-living-thing", "find-non-living-thing", "chemistry-mix-paint-secondary-color",
    "lifespan-longest-lived"))

PROTOCOLS: dict[str, Protocol] = {
    protocol.name: protocol
    for protocol in (
        Protocol(
            name="paper",
            description="ScienceWorld, 30 tasks x first 10 test variations, easy, 100 steps",
            env_ids=_SCIENCEWORLD_ALL, variations_per_task=10, make_kwargs=_EASY,
            source="Sub-goal Distillation (Hashemzadeh et al., 2024): at most 10 test variations "
                   "per task, easy simplification, negative scores count as 0, mean over 30 tasks"),
        Protocol(
            name="swiftsage",
            description="ScienceWorld, 30 tasks x first 3 test variations, easy, 100 steps",
            env_ids=_SCIENCEWORLD_ALL, variations_per_task=3, make_kwargs=_EASY,
            source="SwiftSage (Lin et al., 2023): the first three test variations of each task"),
        Protocol(
            name="quick",
            description="4 short ScienceWorld tasks x first 10 test variations, easy, 100 steps",
            env_ids=_QUICK_TASKS, variations_per_task=10, make_kwargs=_EASY,
            source="textgym: the bench's default, sized so that each agent's overall 95% interval is about "
                   "+-10 points (39 episodes: chemistry-mix-paint-secondary-color has 9 test variations)"),
        Protocol(
            name="smoke",
            description="4 short ScienceWorld tasks x first 2 test variations, easy, 100 steps",
            env_ids=_QUICK_TASKS, variations_per_task=2, make_kwargs=_EASY,
            source="textgym: a minute-long check that everything runs; too few episodes to compare agents"),
        Protocol(
            name="short10",
            description="10 short ScienceWorld tasks x first 3 test variations, easy, 100 steps",
            env_ids=tuple(f"ScienceWorld/{task}-v0" for task in (
                "find-living-thing", "find-non-living-thing", "find-plant", "find-animal",
                "chemistry-mix-paint-secondary-color", "chemistry-mix-paint-tertiary-color",
                "lifespan-longest-lived", "lifespan-shortest-lived", "power-component", "use-thermometer")),
            variations_per_task=3, make_kwargs=_EASY,
            source="textgym: the swiftsage protocol on the 10 tasks whose easy gold paths are shortest "
                   "(5-25 commands; the quick tasks included), for agents trained on a CPU"),
    )
}


def normalized_score(score: float, max_score: float) -> float:
    """The protocols' score: 0-100, a negative final score counted as 0.

    >>> normalized_score(-5, 100), normalized_score(1, 4)
    (0.0, 25.0)
    >>> normalized_score(3, 0)
    Traceback (most recent call last):
    ValueError: A score can only be put on 0-100 with a known maximum; this game reports max_score 0 ...
    """
    if not float(max_score) > 0:
        raise ValueError(f"A score can only be put on 0-100 with a known maximum; this game reports "
                         f"max_score {max_score} (Jericho reports 0 for story files it has no bindings "
                         "for). Evaluate and train on a game whose maximum score is known.")
    return 100.0 * max(float(score), 0.0) / float(max_score)


def get_protocol(name: str) -> Protocol:
    """The protocol called `name`, or a clear error listing the known ones."""
    if name not in PROTOCOLS:
        raise ValueError(f"Unknown protocol {name!r}; choose one of {', '.join(PROTOCOLS)}.")
    return PROTOCOLS[name]
