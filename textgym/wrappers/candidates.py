"""`CandidateActions`: a `Discrete(K)` action space over the admissible commands of each state.

Text commands are not an action space that RL libraries can sample or score; the admissible
commands of the current state are. This wrapper lists up to `K` of them, lets the agent pick one
by index, and publishes which indices are real the three ways libraries look for them:
`action_masks()` (sb3-contrib's MaskablePPO, also through `SubprocVecEnv`), `info["action_mask"]`
(Gymnasium's convention: `env.action_space.sample(mask=info["action_mask"])`) and
`info["candidates"]` (the command texts, for policies that read them).

More candidates than K (ScienceWorld states have up to ~8k admissible commands, 250-1000 with
`simplification="easy"`): `select_candidates` keeps K of them, drawn at random *spread evenly over
the commands' first words* (their verbs), then listed in the env's (sorted) order. A uniform draw
would fill K with the combinatorial `pour`/`move`/`dunk` commands and almost never offer the few
`go`, `open` or `focus on` commands that tasks hinge on; spreading over verbs keeps every verb in
the list whenever K is at least the number of verbs. The draw is redone at every step with the
wrapper's own generator, seeded by `reset(seed=...)`, so a seeded episode sees the same lists.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from textgym.envs.base import TextEnv

DEFAULT_MAX_CANDIDATES = 64
_CANDIDATE_STREAM = 0x7E97  # keeps the wrapper's draws apart from the env's own np_random stream


def check_max_candidates(max_candidates: Any) -> int:
    """`max_candidates` as an int, or a clear error (it sizes the action space)."""
    if isinstance(max_candidates, bool) or not isinstance(max_candidates, numbers.Integral) \
            or max_candidates < 1:
        raise ValueError(f"max_candidates is the size K of the Discrete(K) action space, a positive "
                         f"integer; got {max_candidates!r}.")
    return int(max_candidates)


def select_candidates(commands: Sequence[str], max_candidates: int, rng: np.random.Generator) -> list[str]:
    """At most `max_candidates` of `commands`, spread evenly over their first words (see module doc).

    Every command gets its rank in a random order of the commands sharing its first word; the K
    with the lowest ranks are kept (ties broken at random), in their original order.

        >>> commands = ["go to kitchen", "open door", *[f"pour cup {i} in pot" for i in range(10)]]
        >>> select_candidates(commands, 3, np.random.default_rng(0))
        ['go to kitchen', 'open door', 'pour cup 7 in pot']
    """
    if len(commands) <= max_candidates:
        return list(commands)
    verbs: dict[str, list[int]] = {}
    for index, command in enumerate(commands):
        verbs.setdefault(command.split(" ", 1)[0], []).append(index)
    rank = np.empty(len(commands), dtype=np.int64)
    for members in verbs.values():
        rank[members] = rng.permutation(len(members))
    order = np.lexsort((rng.random(len(commands)), rank))  # by rank, then a random tie-break
    return [commands[i] for i in np.sort(order[:max_candidates])]


class CandidateActions(gym.Wrapper[Any, np.int64, Any, str]):
    """Choose among up to K admissible commands by index: `Discrete(K)` with action masks.

    Example:
        >>> import gymnasium as gym, textgym
        >>> from textgym.wrappers import CandidateActions
        >>> env = CandidateActions(gym.make("ScienceWorld/find-living-thing-v0"), max_candidates=32)
        >>> env.action_space
        Discrete(32)
        >>> obs, info = env.reset(seed=0)
        >>> len(info["candidates"]), int(info["action_mask"].sum()), bool(env.action_masks()[31])
        (32, 32, True)
        >>> first = info["candidates"][0]
        >>> obs, reward, terminated, truncated, info = env.step(0)
        >>> info["command"] == first
        True
        >>> env.close()

    The observation, reward and episode end are the wrapped env's. The action is an index into
    `info["candidates"]`; an index past the last candidate (only possible when a state has fewer
    than K) wraps around (`i % len(candidates)`), so that algorithms without masks (PPO, DQN) and
    SB3's `check_env`, which samples the whole space, still work; masked algorithms never send one.
    After the last step of an episode nothing is admissible: the list is empty and the mask all 0.

    Args:
        env: a textgym env (any wrappers around a `TextEnv`).
        max_candidates: K, the size of the action space (default 64).

    Information (added):
        candidates: the commands indices 0..n-1 stand for (n <= K).
        action_mask: `np.int8` array of shape (K,), 1 for the first n indices.
        command: the command the last action sent (after `step`).

    Change logs:
        v0.1.0: initial version.
    """

    def __init__(self, env: gym.Env, max_candidates: int = DEFAULT_MAX_CANDIDATES) -> None:
        super().__init__(env)
        if not isinstance(env.unwrapped, TextEnv):
            raise TypeError(f"CandidateActions wraps textgym envs (a TextEnv inside); got "
                            f"{type(env.unwrapped).__name__}.")
        self.max_candidates = check_max_candidates(max_candidates)
        self.action_space = gym.spaces.Discrete(self.max_candidates)
        self._rng = np.random.default_rng()
        self._candidates: list[str] = []

    @property
    def candidates(self) -> list[str]:
        """The commands of the current action indices."""
        return list(self._candidates)

    def action_masks(self) -> np.ndarray:
        """Boolean mask of the valid indices (the method MaskablePPO looks for)."""
        mask = np.zeros(self.max_candidates, dtype=bool)
        mask[: len(self._candidates)] = True
        return mask

    def step(self, action: Any) -> tuple[Any, SupportsFloat, bool, bool, dict[str, Any]]:
        index = self._check_action(action)
        if not self._candidates:
            raise gym.error.ResetNeeded("No candidate commands: the episode is over (or not started); "
                                        "call reset().")
        command = self._candidates[index % len(self._candidates)]
        observation, reward, terminated, truncated, info = self.env.step(command)
        info = self._with_candidates(info, over=terminated or truncated)
        info["command"] = command
        return observation, reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[Any, dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng([seed, _CANDIDATE_STREAM])
        return observation, self._with_candidates(info, over=False)

    def _with_candidates(self, info: dict[str, Any], over: bool) -> dict[str, Any]:
        if over:
            self._candidates = []
        else:
            commands = info.get("admissible_commands")
            if commands is None:
                commands = self.env.unwrapped.admissible_commands()
            if not commands:
                raise RuntimeError(f"{self.env.unwrapped!r} reports no admissible command in a running "
                                   "episode, so there is nothing to choose from.")
            self._candidates = select_candidates(commands, self.max_candidates, self._rng)
        info = dict(info)
        info["candidates"] = list(self._candidates)
        info["action_mask"] = self.action_masks().astype(np.int8)
        return info

    def _check_action(self, action: Any) -> int:
        value = action.item() if isinstance(action, np.ndarray) and action.size == 1 else action
        if isinstance(value, bool) or not isinstance(value, numbers.Integral) \
                or not 0 <= value < self.max_candidates:
            raise ValueError(f"Actions of CandidateActions are indices in Discrete({self.max_candidates}) "
                             f"into info['candidates']; got {action!r}.")
        return int(value)
