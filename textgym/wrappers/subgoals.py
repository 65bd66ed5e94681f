"""Sub-goal-aware wrappers: the simulator's own progress in `info`, and the option view an executor
of a hierarchical agent trains and runs in.

Both work on every textgym family whose simulator tracks sub-goals (`env.unwrapped.subgoals()`
returns `textgym.Subgoal` records: ScienceWorld's goal sequence, TextWorld's quests). Families
that track none (TextWorldExpress) are refused with a clear error instead of reporting nothing.

- `SubgoalProgress` adds `info["subgoals"]` and `info["subgoals_completed"]`, and can add a
  shaping bonus per completed sub-goal (off by default).
- `SubgoalConditioned` puts the current sub-goal in the observation, lets a planner, a fixed
  sequence or a callback set it, and reports when it is achieved: by the simulator's progress for
  a native sub-goal, by the annotated segment boundary when replaying `textgym data annotate`
  records (`targets_from_records`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym

from textgym.envs.base import Subgoal, TextEnv
from textgym.spaces import TextSpace, to_printable


def require_subgoals(env: gym.Env) -> TextEnv:
    """The unwrapped `TextEnv` of `env`, or a clear error when its family tracks no sub-goals."""
    inner = env.unwrapped
    if not isinstance(inner, TextEnv):
        raise TypeError(f"Sub-goal wrappers need a textgym env, got {type(inner).__name__}.")
    if type(inner)._subgoals is TextEnv._subgoals:
        name = inner.spec.id if inner.spec is not None else type(inner).__name__
        raise ValueError(f"{name} tracks no sub-goals ({inner.family or type(inner).__name__} reports no "
                         "progress), so a sub-goal wrapper has nothing to report. Families with "
                         "sub-goals: ScienceWorld, TextWorld.")
    return inner


def _key(goal: Subgoal | dict[str, Any]) -> tuple[bool, int]:
    if isinstance(goal, dict):
        return goal["sequential"], goal["index"]
    return goal.sequential, goal.index


class SubgoalProgress(gym.Wrapper[str, str, str, str], gym.utils.RecordConstructorArgs):
    """Reports the simulator's sub-goal progress on every step, with an optional shaping bonus.

    `info["subgoals"]` lists every sub-goal (`Subgoal.to_dict()`: description, goal_type,
    sequential, done, index) after the step; `info["subgoals_completed"]` names those completed
    for the first time in the episode on this step (a sub-goal that comes undone and is redone
    counts once). With `bonus`, each first completion adds `bonus` to the reward. It is off by
    default because ScienceWorld's score already rises with its sub-goals; a bonus helps where
    the score is sparse (TextWorld) or to weigh optional sub-goals more.

        >>> import gymnasium as gym, textgym
        >>> env = SubgoalProgress(gym.make("ScienceWorld/find-living-thing-v0"), bonus=1.0)
        >>> obs, info = env.reset(options={"variation": 0})
        >>> [goal["description"] for goal in info["subgoals"] if goal["sequential"]]
        ['focus on a living thing', 'move living thing to answer box']
        >>> obs, reward, terminated, truncated, info = env.step("go to greenhouse")
        >>> info["subgoals_completed"], reward  # ScienceWorld's 9 points plus the bonus
        (['Move to a new location'], 10.0)
        >>> env.close()

    Args:
        env: a textgym env whose family tracks sub-goals.
        bonus: reward added per sub-goal completed for the first time (default 0: no shaping).
    """

    def __init__(self, env: gym.Env, bonus: float = 0.0) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, bonus=bonus)
        gym.Wrapper.__init__(self, env)
        self.textenv = require_subgoals(env)
        self.bonus = float(bonus)
        self._done: set[tuple[bool, int]] = set()

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None,
              ) -> tuple[str, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        progress = self._progress(info)
        self._done = {_key(goal) for goal in progress if goal["done"]}
        return observation, {**info, "subgoals": progress, "subgoals_completed": []}

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        progress = self._progress(info)
        completed = [goal["description"] for goal in progress
                     if goal["done"] and _key(goal) not in self._done]
        self._done |= {_key(goal) for goal in progress if goal["done"]}
        reward = float(reward) + self.bonus * len(completed)
        return observation, reward, terminated, truncated, {**info, "subgoals": progress,
                                                           "subgoals_completed": completed}

    def _progress(self, info: dict[str, Any]) -> list[dict[str, Any]]:
        if "subgoals" in info:  # the env computed them already (extra_info=("subgoals",))
            return info["subgoals"]
        return [goal.to_dict() for goal in self.textenv.subgoals()]


@dataclass(frozen=True)
class SubgoalTarget:
    """A sub-goal given to the executor, and how `SubgoalConditioned` judges that it is achieved.

    Attributes:
        text: what the executor reads ("navigate_to(kitchen)", "focus on substance").
        native: simulator sub-goal descriptions; achieved when all of them are done.
        end_action: without `native`, the command that closes the sub-goal's segment in annotated
            data; achieved once the executor has sent it `end_count` times under this sub-goal.
    Without either, only the caller can judge (it sets the next sub-goal itself).
    """

    text: str
    native: tuple[str, ...] = ()
    end_action: str | None = None
    end_count: int = 1

    def __post_init__(self) -> None:
        if not isinstance(self.text, str) or not self.text.strip():
            raise ValueError(f"A sub-goal needs a non-empty text, got {self.text!r}.")
        if self.end_count < 1:
            raise ValueError(f"end_count must be at least 1, got {self.end_count}.")

    @property
    def judged_by(self) -> str:
        """"simulator", "boundary" or "caller"."""
        return "simulator" if self.native else "boundary" if self.end_action else "caller"


SubgoalLike = str | SubgoalTarget
Planner = Callable[[str, dict[str, Any]], SubgoalLike | None]


def targets_from_records(steps: Sequence[dict[str, Any]]) -> list[SubgoalTarget]:
    """The sub-goals of one annotated episode (`AnnotatedStep` records), judged by their boundaries.

    Replaying the episode's gold commands under these targets reports an achievement exactly on
    the steps marked `end_of_subgoal`.
    """
    if not steps or any("segment" not in step or "end_of_subgoal" not in step for step in steps):
        raise ValueError("targets_from_records needs the annotated steps of one episode "
                         "(`textgym data annotate` records, with segment and end_of_subgoal).")
    ordered = sorted(steps, key=lambda step: step["step"])
    targets = []
    segment: list[dict[str, Any]] = []
    for step in ordered:
        segment.append(step)
        if step["end_of_subgoal"]:
            end = _command(step["action"])
            count = sum(_command(s["action"]) == end for s in segment)
            targets.append(SubgoalTarget(step["subgoal"], end_action=step["action"], end_count=count))
            segment = []
    if segment:
        raise ValueError("The episode's last step is not marked end_of_subgoal: corrupt annotation.")
    return targets


def _command(action: str) -> str:
    return " ".join(action.lower().split())


class SubgoalConditioned(gym.Wrapper[str, str, str, str], gym.utils.RecordConstructorArgs):
    """The option view: the current sub-goal joins the observation and its achievement is reported.

    The observation is `"Sub-goal: <text>\\n<observation>"` ("none" when no sub-goal is set).
    The sub-goal comes from, in order of precedence: `set_subgoal(...)` at any time (a planner
    outside the env); `reset(options={"subgoals": [...]})` for one episode; the `subgoals`
    argument, either a fixed sequence (the next one starts when one is achieved) or a callback
    `planner(observation, info)` asked at reset and after each achievement.

    A sub-goal is achieved when the simulator reports its native sub-goals done (a text equal to
    one of `env.unwrapped.subgoals()` descriptions is native), or, for targets built from
    annotated data, when the executor sends the segment's closing command (`SubgoalTarget`).
    `info["subgoal"]` is the sub-goal now in force, `info["subgoal_achieved"]` the text of the one
    achieved on this step (None otherwise), `info["subgoal_judged_by"]` how it is judged.

        >>> import gymnasium as gym, textgym
        >>> env = SubgoalConditioned(gym.make("ScienceWorld/find-living-thing-v0"),
        ...                          subgoals=["focus on a living thing", "move living thing to answer box"])
        >>> obs, info = env.reset(options={"variation": 0})
        >>> obs.splitlines()[0], info["subgoal_judged_by"]
        ('Sub-goal: focus on a living thing', 'simulator')
        >>> for action in ["go to greenhouse", "go to outside", "focus on dove"]:
        ...     obs, reward, terminated, truncated, info = env.step(action)
        >>> info["subgoal_achieved"], info["subgoal"]
        ('focus on a living thing', 'move living thing to answer box')
        >>> env.close()

    Args:
        env: a textgym env whose family tracks sub-goals.
        subgoals: None (set by the caller), a sequence of texts or `SubgoalTarget`s, or a planner.
        bonus: reward added when the current sub-goal is achieved (default 0).
        terminate_on_achieved: end the episode when a sub-goal is achieved (one option per episode).
    """

    prefix = "Sub-goal: "
    max_subgoal_length = 200

    def __init__(self, env: gym.Env, subgoals: Sequence[SubgoalLike] | Planner | None = None, *,
                 bonus: float = 0.0, terminate_on_achieved: bool = False) -> None:
        gym.utils.RecordConstructorArgs.__init__(self, subgoals=subgoals, bonus=bonus,
                                                 terminate_on_achieved=terminate_on_achieved)
        gym.Wrapper.__init__(self, env)
        self.textenv = require_subgoals(env)
        if isinstance(subgoals, str):
            raise TypeError("subgoals takes a sequence of sub-goals (or a planner), not one string: "
                            f"write [{subgoals!r}].")
        self.planner: Planner | None = subgoals if callable(subgoals) else None
        self.sequence: list[SubgoalLike] = [] if subgoals is None or callable(subgoals) else list(subgoals)
        self.bonus = float(bonus)
        self.terminate_on_achieved = bool(terminate_on_achieved)
        inner_space = env.observation_space
        length = getattr(inner_space, "max_length", self.textenv.max_observation_length)
        self.observation_space = TextSpace(length + len(self.prefix) + self.max_subgoal_length + 1)
        self.current: SubgoalTarget | None = None
        self._queue: list[SubgoalLike] = []
        self._sent: dict[str, int] = {}

    # ------------------------------------------------------------------ the caller's controls
    def set_subgoal(self, subgoal: SubgoalLike | None) -> SubgoalTarget | None:
        """Make `subgoal` the current one (None: no sub-goal); returns it as a `SubgoalTarget`."""
        if self.textenv.variation is None:
            raise gym.error.ResetNeeded("Call reset() before set_subgoal().")
        self.current = None if subgoal is None else self._target(subgoal)
        self._sent = {}
        return self.current

    # ------------------------------------------------------------------ Gymnasium API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None,
              ) -> tuple[str, dict[str, Any]]:
        options = dict(options or {})
        episode_subgoals = options.pop("subgoals", None)
        if isinstance(episode_subgoals, (str, SubgoalTarget)):
            episode_subgoals = [episode_subgoals]
        observation, info = self.env.reset(seed=seed, options=options or None)
        self._queue = list(self.sequence if episode_subgoals is None else episode_subgoals)
        self.current, self._sent = None, {}
        self._next(observation, info)
        return self._observe(observation), self._info(info, None)

    def step(self, action: str) -> tuple[str, SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        command = _command(action)
        self._sent[command] = self._sent.get(command, 0) + 1
        achieved = self.current if self.current is not None and self._achieved(self.current) else None
        if achieved is not None:
            reward = float(reward) + self.bonus
            terminated = terminated or self.terminate_on_achieved
            self.current, self._sent = None, {}
            self._next(observation, info)
        return (self._observe(observation), reward, terminated, truncated,
                self._info(info, achieved.text if achieved else None))

    # ------------------------------------------------------------------ internals
    def _next(self, observation: str, info: dict[str, Any]) -> None:
        """Move to the next sub-goal of the queue, or ask the planner."""
        if self._queue:
            self.current = self._target(self._queue.pop(0))
        elif self.planner is not None:
            proposal = self.planner(observation, info)
            self.current = None if proposal is None else self._target(proposal)

    def _target(self, subgoal: SubgoalLike) -> SubgoalTarget:
        descriptions = [goal.description for goal in self.textenv.subgoals()]
        if isinstance(subgoal, SubgoalTarget):
            unknown = [d for d in subgoal.native if d not in descriptions]
            if unknown:
                raise ValueError(f"{unknown} are not sub-goals of this episode; its sub-goals are "
                                 f"{descriptions}.")
            return subgoal
        if not isinstance(subgoal, str):
            raise TypeError(f"A sub-goal is a str or a SubgoalTarget, got {type(subgoal).__name__}: "
                            f"{subgoal!r:.80}")
        return SubgoalTarget(subgoal, native=(subgoal,) if subgoal in descriptions else ())

    def _achieved(self, target: SubgoalTarget) -> bool:
        if target.native:
            done = {goal.description for goal in self.textenv.subgoals() if goal.done}
            return all(description in done for description in target.native)
        if target.end_action is not None:
            return self._sent.get(_command(target.end_action), 0) >= target.end_count
        return False

    def _observe(self, observation: str) -> str:
        text = to_printable(self.current.text, self.max_subgoal_length) if self.current else "none"
        return f"{self.prefix}{text}\n{observation}"

    def _info(self, info: dict[str, Any], achieved: str | None) -> dict[str, Any]:
        return {**info, "subgoal": self.current.text if self.current else None, "subgoal_achieved": achieved,
                "subgoal_judged_by": self.current.judged_by if self.current else None}
