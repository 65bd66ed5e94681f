"""`textgym data gold`: replay gold paths and record every step, for imitation and sub-goal data.

Each episode (env id, variation) is one JSON Lines file, `OUT/<family>/<task>-v0/<variation>.jsonl`,
holding one `GoldStep` per command (`textgym.data.records`). A file is written atomically once the
episode is complete, so an interrupted run leaves only whole episodes behind and a rerun with the
same `--out` skips them: resuming never duplicates a step. `OUT/manifest.json` records the settings
(split, simplification, simulator versions); a rerun with other settings is refused rather than
mixing two datasets in one folder.

Episodes run in `--workers` processes, each with one env (one JVM) that it reuses while
consecutive episodes share an id. Look, inventory, admissible commands and sub-goal progress come
from the env's on-demand methods: they cost simulator time, which is what data generation is for.
Gold commands after the episode ended (some gold paths go on after the win) are not recorded.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import gymnasium as gym
import orjson

from textgym.cache import read_json, write_bytes_atomic, write_json_atomic
from textgym.data.records import GoldStep
from textgym.distributed import BACKENDS, check_backend, ray_session
from textgym.envs import FAMILIES, SPLITS, TextEnv, registered_ids
from textgym.envs.base import closest

MANIFEST = "manifest.json"


# ---------------------------------------------------------------------------------------- files
def episode_path(out: str | Path, env_id: str, variation: int) -> Path:
    """Where the episode (env_id, variation) lives in a dataset folder."""
    return Path(out).joinpath(*env_id.split("/")) / f"{variation:05d}.jsonl"


def episode_files(root: str | Path) -> list[Path]:
    """The episode files under `root`, sorted (a clear error when there are none)."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"{root} is not a folder: build one with `textgym data gold --out {root}`.")
    files = sorted(root.rglob("*.jsonl"))
    if not files:
        raise FileNotFoundError(f"No .jsonl episode files under {root}: build them with `textgym data gold`.")
    return files


def write_episode(path: Path, records: Sequence[dict[str, Any]]) -> None:
    """Write one episode's records as JSON Lines, atomically."""
    write_bytes_atomic(path, b"".join(orjson.dumps(record) + b"\n" for record in records))


def read_episode(path: str | Path, required: Sequence[str] = tuple(GoldStep.__annotations__)) -> list[dict]:
    """The records of one episode file, ordered by step. A line that is not a JSON object with the
    `required` fields, or an episode whose steps are not 0..n-1, is an error naming file and line."""
    records = []
    with open(path, "rb") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                raise ValueError(f"{path}:{number}: not valid JSON ({error}).") from None
            if not isinstance(record, dict):
                raise ValueError(f"{path}:{number}: expected a JSON object, got {type(record).__name__}.")
            missing = [key for key in required if key not in record]
            if missing:
                raise ValueError(f"{path}:{number}: step record lacks {', '.join(missing)}.")
            records.append(record)
    if not records:
        raise ValueError(f"{path}: empty episode file.")
    steps = sorted(record["step"] for record in records)
    if steps != list(range(len(records))):
        raise ValueError(f"{path}: steps are {steps[:10]}..., not 0..{len(records) - 1} (a corrupt episode).")
    return sorted(records, key=lambda record: record["step"])


def iter_episodes(root: str | Path, required: Sequence[str] = tuple(GoldStep.__annotations__),
                  ) -> Iterator[tuple[Path, list[dict]]]:
    """(file, records) for every episode file under `root`."""
    for path in episode_files(root):
        yield path, read_episode(path, required)


def check_manifest(out: Path, settings: dict[str, Any]) -> None:
    """Write `out/manifest.json`, or check that an existing one has the same settings."""
    path = out / MANIFEST
    existing = read_json(path)
    if path.exists() and not isinstance(existing, dict):
        raise ValueError(f"{path} is corrupt: delete it (and the folder's data) or pick another --out.")
    if existing is not None:
        differs = {key: (existing.get(key), value) for key, value in settings.items()
                   if key != "env_ids" and existing.get(key) != value}
        if differs:
            detail = "; ".join(f"{key}: folder has {old!r}, this run {new!r}"
                               for key, (old, new) in differs.items())
            raise ValueError(f"{out} holds data made with other settings ({detail}). "
                             "Resume with the same settings or choose another --out.")
        settings = {**settings, "env_ids": list(dict.fromkeys([*existing.get("env_ids", []),
                                                               *settings.get("env_ids", [])]))}
    write_json_atomic(path, settings)


# ---------------------------------------------------------------------------------------- envs
def resolve_env_ids(names: Sequence[str]) -> list[str]:
    """Env ids from family names ("ScienceWorld") and ids ("ScienceWorld/boil-v0"), in order."""
    known = registered_ids()
    ids: list[str] = []
    for name in names:
        if name in FAMILIES:
            family_ids = registered_ids(name)
            if not family_ids:
                raise ValueError(f"No {name} envs are registered in this installation.")
            ids += family_ids
        elif name in known:
            ids.append(name)
        else:
            raise ValueError(f"Unknown env {name!r}.{closest(name, [*FAMILIES, *known])} Give a family "
                             f"({', '.join(FAMILIES)}) or an id from textgym.registered_ids().")
    return list(dict.fromkeys(ids))


def make_kwargs(env_id: str, split: str, simplification: str | None) -> dict[str, Any]:
    """`gym.make` keywords of a data run (the simplification applies to ScienceWorld only)."""
    kwargs: dict[str, Any] = {"split": split, "disable_env_checker": True}
    if env_id.startswith("ScienceWorld/"):
        kwargs["simplification"] = simplification
    return kwargs


def replay_gold(env: TextEnv, env_id: str, variation: int) -> list[GoldStep]:
    """Play the gold path of `variation` in `env` (unwrapped) and return one record per command."""
    observation, info = env.reset(options={"variation": variation})
    gold = env.gold_path()
    done_before = {(goal.sequential, goal.index) for goal in env.subgoals() if goal.done}
    records: list[GoldStep] = []
    for step, action in enumerate(gold):
        look, inventory = env.look(), env.inventory()
        valid_action_count = len(env.admissible_commands())
        next_observation, reward, terminated, truncated, info = env.step(action)
        progress = env.subgoals()
        completed = [goal.description for goal in progress
                     if goal.done and (goal.sequential, goal.index) not in done_before]
        done_before |= {(goal.sequential, goal.index) for goal in progress if goal.done}
        records.append(GoldStep(
            env_id=env_id, task=env_id.split("/", 1)[1].removesuffix("-v0"), task_description=info["task"],
            variation=variation, split=env.split, step=step, observation=observation, look=look,
            inventory=inventory, action=action, next_observation=next_observation, reward=float(reward),
            score=float(info["score"]), max_score=float(info["max_score"]), moves=int(info["moves"]),
            won=bool(info["won"]), done=bool(terminated or truncated), subgoals_completed=completed,
            valid_action_count=valid_action_count, subgoals=[goal.to_dict() for goal in progress]))
        observation = next_observation
        if terminated or truncated:
            break
    return records


@dataclass(frozen=True)
class EpisodeJob:
    env_id: str
    variation: int
    kwargs: dict[str, Any]
    path: Path


_worker_env: dict[str, Any] = {}  # the one env of a worker process: {"key": ..., "env": ...}


def run_job(job: EpisodeJob) -> tuple[EpisodeJob, list[GoldStep]]:
    """Replay one episode in this process's env (made, or replaced when the id changes).

    The records go back to the caller, which writes them: on a Ray cluster the worker may be on
    another machine than the dataset folder."""
    key = (job.env_id, repr(sorted(job.kwargs.items())))
    if _worker_env.get("key") != key:
        close_worker_env()
        _worker_env.update(key=key, env=gym.make(job.env_id, **job.kwargs))
    return job, replay_gold(_worker_env["env"].unwrapped, job.env_id, job.variation)


def close_worker_env() -> None:
    if "env" in _worker_env:
        _worker_env.pop("env").close()
    _worker_env.pop("key", None)


def _init_worker() -> None:
    import multiprocessing.util
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the parent handles Ctrl-C and stops the pool
    # Pool workers skip atexit; this runs when a worker exits cleanly (a killed one's JVM dies with it).
    multiprocessing.util.Finalize(None, close_worker_env, exitpriority=10)


# ---------------------------------------------------------------------------------------- the run
def plan_jobs(env_ids: Sequence[str], split: str, max_variations: int | None, out: Path,
              simplification: str | None) -> list[EpisodeJob]:
    """Every episode of the run, task by task (so a worker's env serves consecutive episodes)."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}; choose one of {SPLITS}.")
    if max_variations is not None and max_variations < 1:
        raise ValueError("--max-variations-per-task must be at least 1.")
    jobs = []
    for env_id in env_ids:
        kwargs = make_kwargs(env_id, split, simplification)
        env = gym.make(env_id, **kwargs)  # no simulator starts before reset
        try:
            variations = env.unwrapped.variations()[:max_variations]
        finally:
            env.close()
        jobs += [EpisodeJob(env_id, v, kwargs, episode_path(out, env_id, v)) for v in variations]
    return jobs


def build_gold(env_ids: Sequence[str], out: str | Path, *, split: str = "train",
               max_variations: int | None = None, workers: int = 1, simplification: str | None = "easy",
               progress: bool = True, backend: str = "local", address: str | None = None) -> dict[str, int]:
    """Write the gold episodes of `env_ids` under `out`, skipping those already there.

    `backend="ray"` replays the episodes as tasks on a Ray cluster (`address`; None starts a local
    Ray with `workers` CPUs) instead of in local worker processes. Returns counts: episodes
    planned, skipped (already done), written, steps written, and won.
    """
    from textgym import SCIENCEWORLD_VERSION, __version__

    if workers < 1:
        raise ValueError("--workers must be at least 1.")
    out = Path(out)
    jobs = plan_jobs(env_ids, split, max_variations, out, simplification)
    out.mkdir(parents=True, exist_ok=True)
    check_manifest(out, {"kind": "gold", "split": split, "simplification": simplification,
                         "scienceworld": SCIENCEWORLD_VERSION, "textgym": __version__,
                         "env_ids": list(env_ids)})
    todo = [job for job in jobs if not job.path.exists()]
    counts = {"planned": len(jobs), "skipped": len(jobs) - len(todo), "written": 0, "steps": 0, "won": 0}
    run_jobs = _run_jobs if check_backend(backend) == "local" else partial(_run_jobs_on_ray, address=address)
    with progress_bar(progress, len(jobs), counts["skipped"], f"gold paths -> {out}") as advance:
        for job, records in run_jobs(todo, workers):
            write_episode(job.path, records)
            counts["written"] += 1
            counts["steps"] += len(records)
            counts["won"] += bool(records and records[-1]["won"])
            advance()
    return counts


def _run_jobs_on_ray(jobs: list[EpisodeJob], workers: int,
                     address: str | None) -> Iterator[tuple[EpisodeJob, list[GoldStep]]]:
    with ray_session(address, None if address else workers) as ray:
        remote = ray.remote(num_cpus=1)(run_job)
        pending = [remote.remote(job) for job in jobs]
        while pending:
            done, pending = ray.wait(pending)
            yield ray.get(done[0])


def _run_jobs(jobs: list[EpisodeJob], workers: int) -> Iterator[tuple[EpisodeJob, list[GoldStep]]]:
    if workers == 1 or len(jobs) <= 1:
        try:
            yield from map(run_job, jobs)
        finally:
            close_worker_env()
        return
    context = multiprocessing.get_context("spawn")  # no JVM or py4j thread is forked
    pool = context.Pool(min(workers, len(jobs)), initializer=_init_worker)
    try:
        yield from pool.imap_unordered(run_job, jobs)
        pool.close()
    except BaseException:
        pool.terminate()  # each worker's JVM exits with it (py4j --die-on-broken-pipe)
        raise
    finally:
        pool.join()


@contextlib.contextmanager
def progress_bar(enabled: bool, total: int, completed: int, description: str) -> Iterator[Callable[[], None]]:
    """A rich progress bar (or nothing when disabled); the context value advances it by one."""
    if not enabled:
        yield lambda: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                  TimeRemainingColumn()) as progress:
        bar = progress.add_task(description, total=total, completed=completed)
        yield lambda: progress.advance(bar)


# ---------------------------------------------------------------------------------------- CLI
def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--env", nargs="+", default=["ScienceWorld"], metavar="FAMILY_OR_ID",
                        help="families (ScienceWorld, TextWorldExpress, TextWorld) or env ids "
                             "(default: ScienceWorld, all 30 tasks)")
    parser.add_argument("--split", default="train", choices=SPLITS, help="default: train")
    parser.add_argument("--max-variations-per-task", type=int, default=None, metavar="N",
                        help="the first N variations of the split per env (default: all)")
    parser.add_argument("--workers", type=int, default=1,
                        help="parallel processes, one JVM each (default: 1)")
    parser.add_argument("--simplification", default="easy",
                        help="ScienceWorld simplification (default: easy, the papers' setting; "
                             "'none' for none)")
    parser.add_argument("--out", required=True, help="dataset folder (a rerun resumes it)")
    parser.add_argument("--backend", default="local", choices=BACKENDS,
                        help="replay in local worker processes, or as tasks on a Ray cluster")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    simplification = None if args.simplification.lower() == "none" else args.simplification
    counts = build_gold(resolve_env_ids(args.env), args.out, split=args.split,
                        max_variations=args.max_variations_per_task, workers=args.workers,
                        simplification=simplification, progress=not args.quiet, backend=args.backend,
                        address=args.address)
    print(f"{counts['written']} episodes written ({counts['steps']} steps, {counts['won']} won), "
          f"{counts['skipped']} already there, {counts['planned']} in all, in {args.out}")
    return 0
