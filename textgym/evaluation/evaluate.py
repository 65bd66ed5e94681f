"""Run an agent on a list of episodes and score it: the loop behind `textgym eval` and `bench`.

Episodes run `num_envs` at a time. Each slot owns one env, and keeps it for as long as episodes of
the same id and settings are queued: a slot that needs a new env takes the id with the most
queued episodes per slot already on it, so each env (and its JVM) starts about once per slot and
protocol task instead of once per task change (a new JVM and its first, slow, episode cost
seconds). The agent is asked for all active slots in one
`act_batch` call, and the envs step concurrently in threads (each simulator is its own JVM
process, so their steps overlap). Every episode carries its own seed, used for the env reset and
the agent's slot, so a result does not depend on `num_envs`, the order, or the backend.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol, runtime_checkable

import gymnasium as gym
import numpy as np

from textgym.evaluation import protocols


@runtime_checkable
class BatchedAgent(Protocol):
    """What the loop drives: `textgym.agents.Agent` has exactly this shape (see its docstring).

    Defined here, not imported from `textgym.agents`, so that evaluation sits below the agents
    and any agent, trainer included, may evaluate itself.
    """

    required_info: tuple[str, ...]

    def reset(self, num_envs: int = 1) -> None: ...

    def reset_env(self, slot: int, seed: int | None = None) -> None: ...

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]: ...


@dataclass(frozen=True)
class EpisodeSpec:
    """One evaluation episode: which env, variation and seed, and the env's make keywords."""

    env_id: str
    variation: int
    seed: int
    max_steps: int = 100
    make_kwargs: dict[str, Any] = field(default_factory=dict)


@dataclass
class EpisodeResult:
    """How an episode ended. `normalized` is the protocol score: 0-100, negative counted as 0."""

    env_id: str
    variation: int
    seed: int
    score: float
    max_score: float
    normalized: float
    won: bool
    lost: bool
    steps: int
    seconds: float
    actions: list[str] = field(default_factory=list)
    training_seed: int | None = None
    """The seed the agent was trained with, when a run compares several (`textgym bench --seeds`)."""
    usage: dict[str, float] = field(default_factory=dict)
    """What the episode cost the agent (`Agent.episode_usage`: an LLM agent's tokens, requests...)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def episode_seed(env_id: str, variation: int, base_seed: int = 0) -> int:
    """A seed that depends only on the episode (not on its position in a run)."""
    return (zlib.crc32(f"{env_id}:{variation}".encode()) + base_seed) % 2**31


def protocol_episodes(protocol: protocols.Protocol, env_ids: Sequence[str] | None = None,
                      variations_per_task: int | None = None, base_seed: int = 0) -> list[EpisodeSpec]:
    """The episodes of `protocol`, optionally restricted to some envs or fewer variations."""
    chosen = list(protocol.env_ids) if not env_ids else list(env_ids)
    unknown = [env_id for env_id in chosen if env_id not in protocol.env_ids]
    if unknown:
        raise ValueError(f"{unknown} are not in protocol {protocol.name!r} ({', '.join(protocol.env_ids)}).")
    limit = variations_per_task or protocol.variations_per_task
    episodes = []
    for env_id in chosen:
        kwargs = protocol.kwargs_for(env_id)
        env = gym.make(env_id, disable_env_checker=True, **kwargs)
        try:
            variations = env.unwrapped.variations()[:limit]
        finally:
            env.close()
        episodes += [EpisodeSpec(env_id, v, episode_seed(env_id, v, base_seed), protocol.max_steps, kwargs)
                     for v in variations]
    return episodes


class _CallableAgent:
    """Adapts any object with `act(observation, info)` (and optionally `reset()`) to `BatchedAgent`."""

    def __init__(self, policy: Any) -> None:
        self.device = getattr(policy, "device", "cpu")
        self.policy = policy
        self.name = getattr(policy, "name", type(policy).__name__)
        self.required_info = tuple(getattr(policy, "required_info", ()))

    def reset(self, num_envs: int = 1) -> None:
        self.num_envs = num_envs

    def reset_env(self, slot: int, seed: int | None = None) -> None:
        if hasattr(self.policy, "reset"):
            self.policy.reset()

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        return [self.policy.act(o, i) for o, i in zip(observations, infos, strict=True)]


def usage_of(agent: BatchedAgent, slot: int) -> dict[str, float]:
    """What the slot's episode cost the agent (`Agent.episode_usage`; empty for agents without it)."""
    episode_usage = getattr(agent, "episode_usage", None)
    return dict(episode_usage(slot)) if callable(episode_usage) else {}


def as_agent(policy: Any) -> tuple[BatchedAgent, bool]:
    """`(agent, batched)`: a `BatchedAgent` as is, or a plain policy wrapped (one env at a time)."""
    if isinstance(policy, BatchedAgent):
        return policy, True
    if not callable(getattr(policy, "act", None)):
        raise TypeError(f"{type(policy).__name__} is not an agent: it has no act(observation, info) method.")
    return _CallableAgent(policy), False


def env_kwargs_for(agent: BatchedAgent, spec: EpisodeSpec) -> dict[str, Any]:
    """Make keywords for `spec` plus the extras the agent reads."""
    required = set(agent.required_info)
    extras = tuple(key for key in ("look", "inventory", "subgoals", "gold_path") if key in required)
    return {**spec.make_kwargs, "admissible_commands": "admissible_commands" in required,
            "extra_info": extras, "max_episode_steps": spec.max_steps}


def env_key(spec: EpisodeSpec, kwargs: dict[str, Any]) -> tuple[str, str]:
    """Episodes with the same key can share one env."""
    return spec.env_id, repr(sorted(kwargs.items()))


def next_episode(queue: Sequence[tuple[int, EpisodeSpec, tuple]], key: tuple | None,
                 held: Sequence[tuple | None]) -> int:
    """Position in `queue` of the episode a slot runs next: the first one its env (`key`) can run,
    else the first of the key with the most queued episodes per slot already holding it (`held`:
    the other slots' keys), so that slots spread over the envs instead of all changing together.

        >>> queue = [(0, None, "a"), (1, None, "a"), (2, None, "a"), (3, None, "b"), (4, None, "b")]
        >>> next_episode(queue, "b", []), next_episode(queue, None, []), next_episode(queue, None, ["a"])
        (3, 0, 3)
    """
    keys = [item[2] for item in queue]
    if key in keys:
        return keys.index(key)
    counts = {k: keys.count(k) / (1 + list(held).count(k)) for k in dict.fromkeys(keys)}
    return keys.index(max(counts, key=counts.get))  # max keeps the first of equal counts


class _Slot:
    """One parallel episode: its env (kept while the id and keywords stay the same) and state."""

    def __init__(self) -> None:
        self.env: gym.Env | None = None
        self.key: tuple | None = None
        self.spec: EpisodeSpec | None = None

    def start(self, spec: EpisodeSpec, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        key = env_key(spec, kwargs)
        if key != self.key:
            self.close()
            self.env, self.key = gym.make(spec.env_id, disable_env_checker=True, **kwargs), key
        self.spec, self.actions, self.started = spec, [], time.perf_counter()
        observation, info = self.env.reset(seed=spec.seed, options={"variation": spec.variation})
        self.info = info
        return observation, info

    def step(self, action: str) -> tuple[str, float, bool, bool, dict[str, Any]]:
        self.actions.append(action)
        result = self.env.step(action)
        self.info = result[4]
        return result

    def result(self) -> EpisodeResult:
        spec, info = self.spec, self.info
        score, max_score = float(info["score"]), float(info["max_score"])
        return EpisodeResult(env_id=spec.env_id, variation=spec.variation, seed=spec.seed, score=score,
                             max_score=max_score, normalized=protocols.normalized_score(score, max_score),
                             won=bool(info["won"]), lost=bool(info["lost"]), steps=len(self.actions),
                             seconds=time.perf_counter() - self.started, actions=list(self.actions))

    def close(self) -> None:
        if self.env is not None:
            self.env.close()
        self.env = self.key = None


def evaluate(policy: Any, episodes: Iterable[EpisodeSpec], num_envs: int = 1,
             on_result: Callable[[EpisodeResult], None] | None = None) -> list[EpisodeResult]:
    """Run `policy` on every episode; results come back in the order of `episodes`.

    Args:
        policy: an `Agent`, or any object with `act(observation, info) -> str` (run one at a time).
        episodes: what to run (see `protocol_episodes`).
        num_envs: parallel episodes (one env, and one JVM, each).
        on_result: called after each finished episode (progress displays use it).
    """
    agent, batched = as_agent(policy)
    queue = [(index, spec, env_key(spec, env_kwargs_for(agent, spec))) for index, spec in enumerate(episodes)]
    num_envs = max(1, min(num_envs if batched else 1, len(queue) or 1))
    results: dict[int, EpisodeResult] = {}
    slots = [_Slot() for _ in range(num_envs)]
    active: dict[int, tuple[int, str, dict[str, Any]]] = {}  # slot -> (episode index, obs, info)
    agent.reset(num_envs)

    planned: dict[int, tuple] = {}  # slot -> env key of its episode, for the slots that have one

    def fill(free: Sequence[int]) -> None:
        """Give each free slot its next episode; the envs start (or reset) concurrently."""
        picks = []
        for slot in free:
            if queue:
                held = [key for other, key in planned.items() if other != slot]
                index, spec, planned[slot] = queue.pop(next_episode(queue, slots[slot].key, held))
                agent.reset_env(slot, spec.seed)
                picks.append((slot, index, spec))
        starts = pool.map(lambda pick: slots[pick[0]].start(pick[2], env_kwargs_for(agent, pick[2])), picks)
        for (slot, index, _), (observation, info) in zip(picks, list(starts), strict=True):
            active[slot] = (index, observation, info)

    with ThreadPoolExecutor(max_workers=num_envs) as pool:
        try:
            fill(range(num_envs))
            while active:
                order = sorted(active)
                actions = agent.act_batch([active[s][1] for s in order], [active[s][2] for s in order], order)
                outcomes = list(pool.map(lambda pair: slots[pair[0]].step(pair[1]),
                                         zip(order, actions, strict=True)))
                ended = []
                for slot, (observation, _, terminated, truncated, info) in zip(order, outcomes, strict=True):
                    index = active[slot][0]
                    if terminated or truncated:
                        del active[slot], planned[slot]
                        results[index] = slots[slot].result()
                        results[index].usage = usage_of(agent, slot)
                        if on_result is not None:
                            on_result(results[index])
                        ended.append(slot)
                    else:
                        active[slot] = (index, observation, info)
                fill(ended)
        finally:
            for slot in slots:
                slot.close()
    return [results[index] for index in sorted(results)]


def summarize(results: Sequence[EpisodeResult]) -> dict[str, dict[str, float]]:
    """Per env id: episodes, mean normalized score, win rate, mean steps; plus an "overall" row
    that averages the per-env means (each task counts once, as in the papers)."""
    table: dict[str, dict[str, float]] = {}
    for env_id in dict.fromkeys(r.env_id for r in results):
        rows = [r for r in results if r.env_id == env_id]
        table[env_id] = {"episodes": len(rows), "score": float(np.mean([r.normalized for r in rows])),
                         "won": float(np.mean([r.won for r in rows])),
                         "steps": float(np.mean([r.steps for r in rows]))}
    if table:
        table["overall"] = {key: float(np.mean([row[key] for row in table.values()]))
                            for key in ("score", "won", "steps")}
        table["overall"]["episodes"] = len(results)
    return table
