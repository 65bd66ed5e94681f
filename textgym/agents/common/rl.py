"""What the RL trainers (`textgym train ppo`, `textgym train drrn`) share: their common settings
(`RLTrainConfig`), how they make envs, and the run summary.

Every run directory holds `episodes.csv` (`textgym.agents.common.logs.EpisodeLog`), TensorBoard
event files, `checkpoints/`, `summary.json`, the training record and the final agent in `agent/`.
"""

from __future__ import annotations

import dataclasses
import functools
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import gymnasium as gym

from textgym.agents.common.config import option
from textgym.agents.common.logs import EpisodeLog
from textgym.agents.common.splits import refuse_test_split
from textgym.data.gold import make_kwargs as data_make_kwargs
from textgym.evaluation.protocols import normalized_score
from textgym.validation import check_integer, check_positive
from textgym.wrappers.candidates import CandidateActions, check_max_candidates

DEFAULT_ENV = "ScienceWorld/find-living-thing-v0"


@dataclass(kw_only=True)
class RLTrainConfig:
    """What every RL trainer takes (`DRRNTrainConfig` and `PPOTrainConfig` add their own)."""

    all_candidates: ClassVar[bool] = False
    """Whether `max_candidates=None` (every admissible command) is allowed: not where K sizes the
    action space (PPO's Discrete(K))."""

    env: tuple[str, ...] = option((DEFAULT_ENV,), metavar="ID", help=(
        f"a registered textgym id; repeat it for one multi-task run, the ids taking turns over the "
        f"parallel envs (default: {DEFAULT_ENV})"))
    total_steps: int = option(20_000, help="env steps over all envs")
    num_envs: int = option(8, help=(
        "parallel envs, one process (and simulator) each; fewer than the env ids and each env plays "
        "its share of the ids in turn, one episode each, restarting its simulator at every switch"))
    seed: int = option(0, help="seed of the envs, the network and sampling")
    device: str = option("cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    out: str | None = option(None, help="run directory (default: runs/ALGO/ENV-sSEED)")
    split: str = option("train", help="variations to train on (default: train)")
    simplification: str = option("easy", help="ScienceWorld simplification (default: easy; 'none' for none)")
    max_episode_steps: int = option(100, help="agent steps per episode")
    env_kwargs: dict[str, Any] = option({}, help=(
        'more gym.make keywords, e.g. \'{"num_locations": 2}\' (TextWorldExpress)'))
    max_candidates: int | None = option(64, help="K: admissible commands offered per state")
    checkpoint_every: int = option(5000, help="env steps between checkpoints")
    reward_scale: float = option(10.0, help="reward of a full score (rewards are score changes / max_score "
                                            "* this)")
    threads: int = option(1, help="torch CPU threads (default: 1)")
    progress: bool = option(True, flag="--quiet", help="no progress bar")

    def __post_init__(self) -> None:
        """Clear errors for bad settings before any env starts."""
        import textgym

        self.env = tuple(self.env) or (DEFAULT_ENV,)
        for env_id in self.env:
            if env_id not in textgym.registered_ids():
                raise ValueError(f"Unknown env {env_id!r}: `textgym.registered_ids()` lists the ids.")
        for name in ("total_steps", "num_envs", "max_episode_steps", "checkpoint_every", "threads"):
            check_integer(name, getattr(self, name), low=1)
        check_positive("reward_scale", self.reward_scale)
        if self.max_candidates is not None or not self.all_candidates:
            check_max_candidates(self.max_candidates)
        refuse_test_split([self.split], f"split={self.split!r}", "RL training", "use --split train")
        if not isinstance(self.env_kwargs, dict):
            raise ValueError(f"env_kwargs must be a JSON object, got {self.env_kwargs!r}.")

    def data(self) -> dict[str, Any]:
        """The `data` of the training record: the envs and their settings."""
        return {"envs": list(self.env), "split": self.split, "simplification": self.simplification,
                "env_kwargs": self.env_kwargs}


def run_directory(config: RLTrainConfig, algorithm: str) -> Path:
    name = config.env[0].replace("/", "-") + (f"+{len(config.env) - 1}" if len(config.env) > 1 else "")
    out = Path(config.out or Path("runs") / algorithm / f"{name}-s{config.seed}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "args.json").write_text(json.dumps(dataclasses.asdict(config), indent=2, default=str))
    return out


def make_kwargs(config: RLTrainConfig, env_id: str) -> dict[str, Any]:
    """`gym.make` keywords of the training envs of `env_id` (`disable_env_checker` included)."""
    simplification = None if config.simplification == "none" else config.simplification
    return {**data_make_kwargs(env_id, config.split, simplification),
            "max_episode_steps": config.max_episode_steps, **config.env_kwargs}


def env_factory(env_id: str, kwargs: dict[str, Any], max_candidates: int | None, reward_scale: float,
                wrap: Callable[[gym.Env], gym.Env]) -> Callable[[], gym.Env]:
    """A picklable thunk for vector envs: make, scale rewards to `reward_scale` per full score (so
    one learning rate suits ScienceWorld's 0-100 and TextWorldExpress's 0-1), offer candidates
    (`CandidateActions`; with `max_candidates=None` the env keeps text actions and puts every
    admissible command in `info` instead), then `wrap` (the observation encoding). `info["score"]`
    stays the env's own. `wrap` is pickled into every worker: give it no model."""

    def make() -> gym.Env:
        more = {} if max_candidates else {"admissible_commands": True}
        env = gym.make(env_id, **kwargs, **more)
        scale = normalized_score(reward_scale, env.unwrapped.max_score) / 100.0  # a clear error for max 0
        env = gym.wrappers.TransformReward(env, lambda reward: reward * scale)
        return wrap(CandidateActions(env, max_candidates) if max_candidates else env)

    return make


class TaskRotation(gym.Wrapper):
    """One parallel env that plays several env ids in turn, one episode each, with one simulator
    alive at a time: every reset after the first closes the current env and makes the next id's.

    What lets a multi-task RL run cap its parallel envs below its number of tasks (30 ScienceWorld
    tasks as 30 JVMs of ~0.5 GB each is more memory than a laptop has), at the price of one
    simulator start per episode. An env made on a switch is reset with `seed + episode` when the
    first reset had a seed, so a seeded run stays reproducible.
    """

    def __init__(self, makers: Sequence[Callable[[], gym.Env]]) -> None:
        if not makers:
            raise ValueError("TaskRotation needs at least one env maker.")
        super().__init__(makers[0]())
        self.makers, self.index, self.episode, self.base_seed = list(makers), 0, 0, None

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        if seed is not None:
            self.base_seed = seed
        if self.episode > 0 and len(self.makers) > 1:
            self.env.close()
            self.index = (self.index + 1) % len(self.makers)
            env = self.makers[self.index]()
            if env.observation_space != self.observation_space or env.action_space != self.action_space:
                env.close()
                raise ValueError(f"TaskRotation: {env.spec.id if env.spec else env} has other spaces than "
                                 f"the first env; only envs with the same spaces can share a slot.")
            self.env = env
            if seed is None and self.base_seed is not None:
                seed = self.base_seed + self.episode
        self.episode += 1
        return self.env.reset(seed=seed, options=options)


def env_factories(config: RLTrainConfig, wrap: Callable[[gym.Env], gym.Env],
                  candidates: bool = True) -> list[Callable[[], gym.Env]]:
    """One thunk per parallel env; the `env` ids take turns over the envs, and where there are
    fewer envs than ids, env k plays ids k, k + num_envs, ... in turn (`TaskRotation`).
    `candidates=False`: text actions and all admissible commands in `info` (for agents that pick
    among them themselves)."""
    max_candidates = config.max_candidates if candidates else None
    makers = [env_factory(env_id, make_kwargs(config, env_id), max_candidates, config.reward_scale, wrap)
              for env_id in config.env]
    if config.num_envs >= len(makers):
        return [makers[slot % len(makers)] for slot in range(config.num_envs)]
    return [functools.partial(TaskRotation, makers[slot::config.num_envs]) for slot in range(config.num_envs)]


def run_tokenizer(config: RLTrainConfig, episodes: int = 4) -> Any:
    """A word tokenizer over text that the run's envs produce (see `build_env_tokenizer`); the envs
    are made and closed one after the other, so a 30-task run starts one simulator at a time."""
    from textgym.wrappers.encoding import build_env_tokenizer

    def probes() -> Iterator[gym.Env]:
        for env_id in config.env:
            probe = gym.make(env_id, **make_kwargs(config, env_id))
            try:
                yield probe
            finally:
                probe.close()

    return build_env_tokenizer(probes(), episodes=episodes, seed=config.seed)


def write_summary(out: Path, steps: int, seconds: float, log: EpisodeLog) -> dict[str, Any]:
    """`summary.json` (what the learning-curve script tabulates) and the closing line of a run."""
    summary = {"env_steps": steps, "seconds": round(seconds, 1),
               "steps_per_second": round(steps / seconds, 2), "episodes": len(log.scores),
               "last_20_episodes_score": round(log.recent(), 2)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{steps} env steps in {seconds:.0f} s ({steps / seconds:.1f} steps/s); last 20 episodes: "
          f"{log.recent():.1f}/100; agent saved to {out / 'agent'}")
    return summary
