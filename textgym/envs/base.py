"""`TextEnv`: the environment contract every textgym family shares.

A family (ScienceWorld, TextWorldExpress, TextWorld) implements a handful of `_methods` that talk
to its simulator; everything a user relies on lives here, once: the spaces, the action checks, the
`info` keys, reward as score delta, `won`/`lost`/`terminated`, variation choice from the split with
`np_random`, rendering, the on-disk gold-path cache and the opt-in extras (admissible commands,
look, inventory, sub-goals), which are computed only when asked because each costs simulator time.
"""

from __future__ import annotations

import abc
import difflib
import numbers
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar, SupportsFloat

import gymnasium as gym

from textgym.cache import cache_dir, read_json, write_json_atomic
from textgym.spaces import COMMAND_CHARSET, TextSpace, to_printable
from textgym.validation import check_command

SPLITS = ("train", "dev", "test")
EXTRA_INFO_KEYS = ("look", "inventory", "subgoals", "gold_path")
"""What `extra_info=` can add to `info`; "gold_path" (for oracles and data) comes with reset only."""
_COMMAND_SET = frozenset(COMMAND_CHARSET)


@dataclass(frozen=True)
class Subgoal:
    """One sub-goal of a task, as the simulator tracks it.

    Attributes:
        description: what has to happen, in the simulator's words ("focus on substance").
        goal_type: the simulator's class of goal ("GoalFind", "GoalChangeStateOfMatter", ...).
        sequential: True for the ordered, required goals; False for unordered or optional ones.
        done: whether the goal is achieved in the current state.
        index: position within its group (sequential or not).
    """

    description: str
    goal_type: str
    sequential: bool
    done: bool
    index: int

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Transition:
    """What a family's simulator reports after one command."""

    observation: str
    score: float
    moves: int
    won: bool
    lost: bool
    done: bool = False  # the simulator ended the episode for another reason


def closest(name: str, choices: Sequence[str]) -> str:
    """' Did you mean ...?' hint for an unknown name, or an empty string."""
    matches = difflib.get_close_matches(name, list(choices), n=3, cutoff=0.5)
    return f" Did you mean {' or '.join(repr(m) for m in matches)}?" if matches else ""


def describe_ids(ids: Sequence[int]) -> str:
    """'21-29' for a contiguous block, else a short list."""
    if not ids:
        return "none"
    if list(ids) == list(range(ids[0], ids[-1] + 1)):
        return f"{ids[0]}-{ids[-1]}"
    head = ", ".join(str(i) for i in ids[:8])
    return head + (f", ... ({len(ids)} in all)" if len(ids) > 8 else "")


class TextEnv(gym.Env[str, str], abc.ABC):
    """Base class of textgym envs (see the family classes for the documented contract).

    Args:
        split: "train", "dev" or "test": where `reset(seed=...)` draws its variations from.
        variation: a fixed variation for every episode (it must belong to `split`).
        admissible_commands: add `info["admissible_commands"]` (sorted) on every step.
        extra_info: any of "look", "inventory", "subgoals", added to `info` on every step, and
            "gold_path", added to the reset `info`.
        render_mode: "ansi" (`render()` returns the text) or "human" (prints it).
    """

    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi", "human"], "render_fps": 4}
    family: ClassVar[str] = ""
    max_observation_length: ClassVar[int] = 16384
    max_action_length: ClassVar[int] = 512

    def __init__(self, *, split: str = "train", variation: int | None = None,
                 admissible_commands: bool = False, extra_info: Sequence[str] = (),
                 render_mode: str | None = None) -> None:
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.{closest(str(split), SPLITS)}")
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"Unknown render_mode {render_mode!r}; choose one of "
                             f"{self.metadata['render_modes']} or None.")
        unknown = [key for key in extra_info if key not in EXTRA_INFO_KEYS]
        if isinstance(extra_info, str) or unknown:
            raise ValueError(f"extra_info takes a sequence of {EXTRA_INFO_KEYS}, got {extra_info!r}.")
        self.split = split
        self.fixed_variation = variation
        self.with_admissible_commands = bool(admissible_commands)
        self.extra_info = tuple(extra_info)
        self.render_mode = render_mode
        self.observation_space = TextSpace(self.max_observation_length)
        self.action_space = TextSpace(self.max_action_length, min_length=1, charset=COMMAND_CHARSET)
        self._variation: int | None = None
        self._actions: list[str] = []
        self._task = ""
        self._observation = ""
        self._score: float = 0
        self._moves = 0
        self._won = self._lost = self._over = False
        self._admissible: list[str] | None = None
        if variation is not None:
            self._check_variation(variation)

    # ------------------------------------------------------------------ the family's part
    @property
    @abc.abstractmethod
    def max_score(self) -> float:
        """The score of a won episode."""

    @abc.abstractmethod
    def _variation_ids(self, split: str) -> Sequence[int]:
        """Variation ids of `split`, sorted."""

    @abc.abstractmethod
    def _begin(self, variation: int) -> Transition:
        """Start an episode on `variation`; return its first observation and score."""

    @abc.abstractmethod
    def _advance(self, action: str) -> Transition:
        """Send one command to the simulator."""

    @abc.abstractmethod
    def _task_description(self) -> str:
        """The goal text of the current episode."""

    @abc.abstractmethod
    def _valid_actions(self) -> list[str]:
        """The simulator's admissible commands in the current state."""

    @abc.abstractmethod
    def _compute_gold_path(self, variation: int) -> list[str]:
        """A winning command sequence for `variation` (the current episode must survive this)."""

    @abc.abstractmethod
    def _cache_namespace(self) -> str:
        """Relative cache folder for this family, task, configuration and simulator version."""

    def _look(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} has no look")

    def _inventory(self) -> str:
        raise NotImplementedError(f"{type(self).__name__} has no inventory")

    def _subgoals(self) -> list[Subgoal]:
        return []

    # ------------------------------------------------------------------ Gymnasium API
    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        action = self._check_action(action)
        if self._variation is None:
            raise gym.error.ResetNeeded("Call reset() before step().")
        if self._over:
            raise gym.error.ResetNeeded("The episode is over (terminated); call reset() to start a new one.")
        transition = self._advance(action)
        self._actions.append(action)
        reward = transition.score - self._score
        self._accept(transition)
        return self._observation, float(reward), self._over, False, self._info()

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[str, dict[str, Any]]:
        super().reset(seed=seed)
        options = dict(options or {})
        variation = options.pop("variation", self.fixed_variation)
        if options:
            raise ValueError(f"Unknown reset options {sorted(options)}; the only one is 'variation'.")
        if variation is None:
            variation = int(self.np_random.choice(self._variation_ids(self.split)))
        else:
            self._check_variation(variation)
        transition = self._begin(int(variation))
        self._variation = int(variation)
        self._actions = []
        self._score = 0
        self._task = self._task_description()
        self._accept(transition)
        info = self._info()
        if "gold_path" in self.extra_info:
            info["gold_path"] = self.gold_path()
        return self._observation, info

    def render(self) -> str | None:
        text = (f"{self._observation}\n[{self.family} variation {self._variation} | score "
                f"{self._score:g}/{self.max_score:g} | moves {self._moves}]")
        if self.render_mode == "human":
            print(text)
            return None
        return text

    # ------------------------------------------------------------------ extras, on demand
    def variations(self, split: str | None = None) -> list[int]:
        """Variation ids of `split` (default: the env's own split)."""
        split = self.split if split is None else split
        if split not in SPLITS:
            raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
        return list(self._variation_ids(split))

    @property
    def variation(self) -> int | None:
        """The current episode's variation (None before the first reset)."""
        return self._variation

    @property
    def actions_taken(self) -> list[str]:
        """The commands sent in the current episode, in order."""
        return list(self._actions)

    def admissible_commands(self) -> list[str]:
        """Sorted admissible commands of the current state (computed once per state)."""
        self._require_episode()
        if self._admissible is None:
            self._admissible = sorted(set(self._valid_actions()))
        return list(self._admissible)

    def look(self) -> str:
        """What the agent sees around it, without spending a move."""
        self._require_episode()
        return to_printable(self._look(), self.max_observation_length)

    def inventory(self) -> str:
        """What the agent carries, without spending a move."""
        self._require_episode()
        return to_printable(self._inventory(), self.max_observation_length)

    def subgoals(self) -> list[Subgoal]:
        """The task's sub-goals with their completion in the current state."""
        self._require_episode()
        return self._subgoals()

    def gold_path(self, variation: int | None = None) -> list[str]:
        """A winning command sequence for `variation` (default: the current episode's).

        Cached on disk per family, task, configuration, variation and simulator version (see
        `textgym.cache`), so only the first call for a variation asks the simulator. Computing
        it does not disturb the episode in progress.
        """
        if variation is None:
            if self._variation is None:
                raise ValueError("No episode yet: call reset() first or pass variation=.")
            variation = self._variation
        else:
            self._check_variation(variation, any_split=True)
        path = self._gold_cache_path(int(variation))
        cached = read_json(path)
        if isinstance(cached, list) and all(isinstance(a, str) for a in cached):
            return cached
        actions = self._compute_gold_path(int(variation))
        write_json_atomic(path, actions)
        return actions

    def _gold_cache_path(self, variation: int) -> Path:
        return cache_dir() / "gold" / self._cache_namespace() / f"{variation}.json"

    # ------------------------------------------------------------------ internals
    def _accept(self, transition: Transition) -> None:
        self._observation = to_printable(transition.observation, self.max_observation_length)
        self._score = transition.score
        self._moves = transition.moves
        self._won, self._lost = transition.won, transition.lost
        self._over = transition.won or transition.lost or transition.done
        self._admissible = None

    def _info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "task": self._task, "score": self._score, "max_score": self.max_score,
            "moves": self._moves, "won": self._won, "lost": self._lost,
            "variation": self._variation,
        }
        if self.with_admissible_commands:
            info["admissible_commands"] = self.admissible_commands()
        for key in self.extra_info:
            if key == "subgoals":
                info[key] = [goal.to_dict() for goal in self._subgoals()]
            elif key != "gold_path":
                info[key] = getattr(self, key)()
        return info

    def _check_action(self, action: Any) -> str:
        return check_command(action, _COMMAND_SET, self.max_action_length)

    def _check_variation(self, variation: Any, any_split: bool = False) -> None:
        if isinstance(variation, bool) or not isinstance(variation, numbers.Integral):
            raise TypeError(f"A variation is an integer id, got {type(variation).__name__}: {variation!r}")
        variation = int(variation)
        splits = SPLITS if any_split else (self.split,)
        if any(variation in self._variation_ids(split) for split in splits):
            return
        where = ", ".join(f"{s} {describe_ids(self._variation_ids(s))}" for s in SPLITS)
        owner = next((s for s in SPLITS if variation in self._variation_ids(s)), None)
        hint = (f" It belongs to the {owner!r} split: make the env with split={owner!r} to use it."
                if owner else "")
        raise ValueError(f"Variation {variation} is not in the {self.split!r} split of "
                         f"{self._name()} (variations by split: {where}).{hint}")

    def _require_episode(self) -> None:
        if self._variation is None:
            raise gym.error.ResetNeeded("Call reset() first: there is no episode yet.")

    def _name(self) -> str:
        return self.spec.id if self.spec is not None else type(self).__name__

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self._name()} split={self.split}>"
