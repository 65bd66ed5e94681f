"""What the RL trainers (`textgym train ppo`, `textgym train drrn`) share: their common options, how
they make envs, and the episode log that TensorBoard and the learning-curve figures read.

Every run directory holds `episodes.csv` (one row per finished training episode: env step,
score, normalized score 0-100 with a negative score counted as 0 as in the evaluation protocols,
won, length), TensorBoard event files, `checkpoints/` and the final agent in `agent/`.
"""

from __future__ import annotations

import argparse
import csv
import itertools
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym

from textgym.wrappers.candidates import CandidateActions, check_max_candidates

DEFAULT_ENV = "ScienceWorld/find-living-thing-v0"


def add_run_arguments(parser: argparse.ArgumentParser, total_steps: int, num_envs: int) -> None:
    """Options every RL trainer takes."""
    parser.add_argument("--env", action="append", default=None, metavar="ID",
                        help=f"a registered textgym id; repeat it for one multi-task run, the ids taking "
                             f"turns over the parallel envs (default: {DEFAULT_ENV})")
    parser.add_argument("--total-steps", type=int, default=total_steps,
                        help="env steps over all envs (default: %(default)s)")
    parser.add_argument("--num-envs", type=int, default=num_envs,
                        help="parallel envs, one process each (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="seed of the envs, the network and sampling")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--out", default=None, help="run directory (default: runs/ALGO/ENV-sSEED)")
    parser.add_argument("--split", default="train", help="variations to train on (default: train)")
    parser.add_argument("--simplification", default="easy",
                        help="ScienceWorld simplification (default: easy; 'none' for none)")
    parser.add_argument("--max-episode-steps", type=int, default=100, help="agent steps per episode")
    parser.add_argument("--env-kwargs", type=json.loads, default={}, metavar="JSON",
                        help='more gym.make keywords, e.g. \'{"num_locations": 2}\' (TextWorldExpress)')
    parser.add_argument("--max-candidates", type=int, default=64,
                        help="K: admissible commands offered per state (default: %(default)s)")
    parser.add_argument("--checkpoint-every", type=int, default=5000, help="env steps between checkpoints")
    parser.add_argument("--reward-scale", type=float, default=10.0,
                        help="reward of a full score (rewards are score changes / max_score * this)")
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads (default: 1)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def check_run_arguments(args: argparse.Namespace) -> None:
    """Clear errors for bad numbers before any env starts."""
    import textgym

    args.env = args.env or [DEFAULT_ENV]
    for env_id in args.env:
        if env_id not in textgym.registered_ids():
            raise ValueError(f"Unknown env {env_id!r}: `textgym.registered_ids()` lists the ids.")
    if args.num_envs < len(args.env):
        raise ValueError(f"--num-envs ({args.num_envs}) must be at least the number of --env ids "
                         f"({len(args.env)}), so that every id gets an env.")
    for name in ("total_steps", "num_envs", "max_episode_steps", "checkpoint_every", "threads"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1.")
    if args.max_candidates is not None:  # None: all admissible commands (where a trainer allows it)
        check_max_candidates(args.max_candidates)
    if not isinstance(args.env_kwargs, dict):
        raise ValueError(f"--env-kwargs must be a JSON object, got {args.env_kwargs!r}.")


def run_directory(args: argparse.Namespace, algorithm: str) -> Path:
    name = args.env[0].replace("/", "-") + (f"+{len(args.env) - 1}" if len(args.env) > 1 else "")
    out = Path(args.out or Path("runs") / algorithm / f"{name}-s{args.seed}")
    out.mkdir(parents=True, exist_ok=True)
    (out / "args.json").write_text(json.dumps(vars(args), indent=2, default=str))
    return out


def make_kwargs(args: argparse.Namespace, env_id: str) -> dict[str, Any]:
    """`gym.make` keywords of the training envs of `env_id`."""
    kwargs: dict[str, Any] = {"split": args.split, "max_episode_steps": args.max_episode_steps}
    if env_id.startswith("ScienceWorld/"):
        kwargs["simplification"] = None if args.simplification == "none" else args.simplification
    return {**kwargs, **args.env_kwargs}


def env_factory(env_id: str, kwargs: dict[str, Any], max_candidates: int | None, reward_scale: float,
                wrap: Callable[[gym.Env], gym.Env]) -> Callable[[], gym.Env]:
    """A picklable thunk for vector envs: make, scale rewards to `reward_scale` per full score (so
    one learning rate suits ScienceWorld's 0-100 and TextWorldExpress's 0-1), offer candidates
    (`CandidateActions`; with `max_candidates=None` the env keeps text actions and puts every
    admissible command in `info` instead), then `wrap` (the observation encoding). `info["score"]`
    stays the env's own. `wrap` is pickled into every worker: give it no model."""

    def make() -> gym.Env:
        more = {} if max_candidates else {"admissible_commands": True}
        env = gym.make(env_id, disable_env_checker=True, **kwargs, **more)
        scale = reward_scale / float(env.unwrapped.max_score)
        env = gym.wrappers.TransformReward(env, lambda reward: reward * scale)
        return wrap(CandidateActions(env, max_candidates) if max_candidates else env)

    return make


def env_factories(args: argparse.Namespace, wrap: Callable[[gym.Env], gym.Env],
                  candidates: bool = True) -> list[Callable[[], gym.Env]]:
    """One thunk per parallel env; the `--env` ids take turns. `candidates=False`: text actions and
    all admissible commands in `info` (for agents that pick among them themselves)."""
    ids = itertools.islice(itertools.cycle(args.env), args.num_envs)
    max_candidates = args.max_candidates if candidates else None
    return [env_factory(env_id, make_kwargs(args, env_id), max_candidates, args.reward_scale, wrap)
            for env_id in ids]


def run_tokenizer(args: argparse.Namespace, episodes: int = 4) -> Any:
    """A word tokenizer over text that the run's envs produce (see `build_env_tokenizer`)."""
    from textgym.wrappers.encoding import build_env_tokenizer

    probes = [gym.make(env_id, disable_env_checker=True, **make_kwargs(args, env_id)) for env_id in args.env]
    try:
        return build_env_tokenizer(probes, episodes=episodes, seed=args.seed)
    finally:
        for probe in probes:
            probe.close()


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
        score, max_score = float(info["score"]), float(info["max_score"])
        normalized = 100.0 * max(score, 0.0) / max_score
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


def write_summary(out: Path, steps: int, seconds: float, log: EpisodeLog) -> None:
    """`summary.json` (what the learning-curve script tabulates) and the closing line of a run."""
    summary = {"env_steps": steps, "seconds": round(seconds, 1),
               "steps_per_second": round(steps / seconds, 2), "episodes": len(log.scores),
               "last_20_episodes_score": round(log.recent(), 2)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"{steps} env steps in {seconds:.0f} s ({steps / seconds:.1f} steps/s); last 20 episodes: "
          f"{log.recent():.1f}/100; agent saved to {out / 'agent'}")
