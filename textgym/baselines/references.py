"""Published scores with the protocol each was measured under, and the rule for showing them.

Every entry of `reference_scores.json` records its protocol in full (`COMPARED` below, plus the
model and whether the agent used the valid-action aid) and its source. A reference stands beside
textgym's numbers only when every compared field equals the run's protocol
(`Protocol.descriptor`); any other reference is shown apart, with what differs. The ScienceWorld
paper's RL numbers, for example, average 5 seeds over the last 10% of training episodes on all
test variations, which is not the `paper` protocol's one episode per variation on the first 10.

>>> ours = {"env": "ScienceWorld (30 tasks)", "split": "test", "variations": "first 10", "seeds": 1,
...         "max_steps": 100, "simplification": "easy", "episodes": "one episode per variation"}
>>> differences({**ours, "variations": "all", "seeds": 5}, ours)
['variations: all (ours: first 10)', 'seeds: 5 (ours: 1)']
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REFERENCE_FILE = Path(__file__).with_name("reference_scores.json")
COMPARED = ("env", "split", "variations", "seeds", "max_steps", "simplification", "episodes")
"""The protocol fields that must be equal for a reference to share a column with our numbers."""


@dataclass(frozen=True)
class Reference:
    """A published result: overall score, per-task scores (ScienceWorld task ids), protocol, source."""

    agent: str
    source: str
    protocol: dict[str, Any]
    overall: float
    tasks: dict[str, float]
    differs: tuple[str, ...] = ()

    @property
    def same_protocol(self) -> bool:
        return not self.differs


def differences(reference: Mapping[str, Any], ours: Mapping[str, Any]) -> list[str]:
    """What differs between a reference's protocol and ours, one phrase per field."""
    return [f"{key}: {reference.get(key, 'not stated')} (ours: {ours[key]})"
            for key in COMPARED if str(reference.get(key)) != str(ours.get(key))]


def load_references(ours: Mapping[str, Any], path: Path = REFERENCE_FILE) -> list[Reference]:
    """Every reference, each marked with how its protocol differs from `ours` (empty: the same)."""
    entries = json.loads(Path(path).read_text())["references"]
    for entry in entries:
        missing = [key for key in (*COMPARED, "model") if key not in entry.get("protocol", {})]
        if missing:
            raise ValueError(f"{path}: the reference {entry.get('agent')!r} does not record {missing} of its "
                             "protocol; every reference must state its protocol in full.")
    return [Reference(agent=entry["agent"], source=entry["source"], protocol=entry["protocol"],
                      overall=float(entry["overall"]), tasks=dict(entry.get("tasks", {})),
                      differs=tuple(differences(entry["protocol"], ours)))
            for entry in entries]
