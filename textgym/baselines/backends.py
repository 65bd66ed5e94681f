"""Where evaluation episodes run: in this process (`local`) or fanned out over a Ray cluster (`ray`).

Both backends take the agent as a *reference* (a built-in name, a saved directory, or
`module:Class`), because a Ray worker must build its own copy. Each Ray actor holds one agent and
one env at a time and receives the episodes of one env id in chunks, so a JVM serves many
episodes. Every episode carries its own seed, so both backends give the same results.

Both set torch's CPU threads for the agent (`threads`, 1 by default) before it acts. Left to
torch, the count is the machine's core count, which makes the agent's arithmetic differ from one
machine to the next, and, in a process that trained an agent first, whatever the trainer set (a
cold `textgym bench` and a cached one then evaluated with different counts). One thread also
suits the small bundled models: a second one made the BC agent's beam search 22% faster (34
against 44 ms a call) on an idle 2-core machine (`benchmarks/seq2seq_decoding.py --threads 2`),
while the simulators' JVMs and, in `textgym bench`, a second agent's process want those cores.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from itertools import groupby
from typing import Any

from textgym.distributed import check_backend, ray_session
from textgym.evaluation.evaluate import EpisodeResult, EpisodeSpec, evaluate
from textgym.validation import check_integer

DEFAULT_THREADS = 1
"""torch CPU threads of an evaluated agent (see the module docstring)."""


def set_threads(threads: int) -> None:
    """Set torch's CPU threads for this process (imported here so that env-only runs skip torch)."""
    import torch

    check_integer("threads", threads, low=1)
    torch.set_num_threads(threads)


def add_threads_argument(parser: argparse.ArgumentParser) -> None:
    """`--threads`, as `textgym bench` and `textgym eval` take it."""
    parser.add_argument("--threads", type=int, default=DEFAULT_THREADS,
                        help=f"torch CPU threads of the evaluated agents (default: {DEFAULT_THREADS}, the "
                             "same on every machine)")


def run_local(agent_reference: str, episodes: Sequence[EpisodeSpec], num_envs: int = 1, device: str = "cpu",
              on_result: Callable[[EpisodeResult], None] | None = None,
              threads: int = DEFAULT_THREADS) -> list[EpisodeResult]:
    """Evaluate in this process, `num_envs` episodes at a time."""
    from textgym.agents import load_agent

    set_threads(threads)
    agent = load_agent(agent_reference, device=device)
    return evaluate(agent, episodes, num_envs=num_envs, on_result=on_result)


def _evaluate_job(job: int, agent_reference: str, episodes: Sequence[EpisodeSpec], num_envs: int, device: str,
                  threads: int, events: Any) -> list[EpisodeResult]:
    """One agent's evaluation in a worker process of `run_agents`; `events` hears of each episode."""
    return run_local(agent_reference, episodes, num_envs, device, lambda result: events.put(job), threads)


def run_agents(agent_references: Sequence[str], episodes: Sequence[EpisodeSpec], processes: int = 1,
               num_envs: int = 1, device: str = "cpu", threads: int = DEFAULT_THREADS,
               on_episode: Callable[[int], None] | None = None) -> list[list[EpisodeResult]]:
    """Evaluate several agents on the same episodes here, `processes` agents at a time.

    With 1, one after the other in this process. With more, each agent runs in a worker process
    of its own (started with `spawn`: no torch or JVM state is forked), which keeps both halves of
    the machine busy: an agent's inference runs on one thread while another agent's simulators step.
    Every episode carries its seed and every agent its thread count, so the results are the same
    either way (tests/baselines/test_bench.py). `on_episode(agent index)` is called after each
    finished episode (progress displays use it).
    """
    report = on_episode or (lambda job: None)
    check_integer("processes", processes, low=1)
    if processes == 1 or len(agent_references) < 2:
        return [run_local(reference, episodes, num_envs, device, lambda _, job=job: report(job), threads)
                for job, reference in enumerate(agent_references)]
    import multiprocessing
    import queue
    from concurrent.futures import ProcessPoolExecutor

    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager, ProcessPoolExecutor(min(processes, len(agent_references)),
                                                           mp_context=context) as pool:
        events = manager.Queue()
        episodes = list(episodes)
        futures = [pool.submit(_evaluate_job, job, reference, episodes, num_envs, device, threads, events)
                   for job, reference in enumerate(agent_references)]
        while True:
            finished = all(future.done() for future in futures)
            try:
                job = events.get(timeout=0.2)
            except queue.Empty:
                if finished:
                    break
                continue
            report(job)
        return [future.result() for future in futures]  # raises the first agent's error, if any


def chunks(episodes: Sequence[EpisodeSpec], size: int) -> list[list[tuple[int, EpisodeSpec]]]:
    """Consecutive episodes of the same env id, at most `size` per chunk, with their positions."""
    indexed = list(enumerate(episodes))
    out = []
    for _, group in groupby(indexed, key=lambda item: item[1].env_id):
        group = list(group)
        out += [group[i : i + size] for i in range(0, len(group), size)]
    return out


def run_ray(agent_reference: str, episodes: Sequence[EpisodeSpec], address: str | None = None,
            num_workers: int | None = None, device: str = "cpu", chunk_size: int = 4,
            on_result: Callable[[EpisodeResult], None] | None = None,
            threads: int = DEFAULT_THREADS) -> list[EpisodeResult]:
    """Evaluate on a Ray cluster (`address`; None starts a local Ray instance), one env per actor."""
    check_integer("threads", threads, low=1)  # before a cluster starts
    with ray_session(address, num_workers) as ray:
        from ray.util import ActorPool

        resources = ray.available_resources()
        workers = num_workers or max(1, int(resources.get("CPU", 1)))
        actor = ray.remote(**actor_options(device, workers, resources.get("GPU", 0.0)))(_EpisodeWorker)
        pool = ActorPool([actor.remote(agent_reference, device, threads) for _ in range(workers)])
        results: dict[int, EpisodeResult] = {}
        work = chunks(episodes, chunk_size)
        for chunk_results in pool.map_unordered(lambda a, chunk: a.run.remote(chunk), work):
            for index, result in chunk_results:
                results[index] = result
                if on_result is not None:
                    on_result(result)
        return [results[index] for index in sorted(results)]


def actor_options(device: str, workers: int, gpus: float) -> dict[str, float]:
    """Ray resources of one episode actor: a CPU, and on a CUDA `device` an equal share of the
    cluster's `gpus` (so that Ray keeps the GPU visible to the actor and fits `workers` copies of
    the agent on it). Asking for a GPU the cluster lacks would leave the actors pending forever.

        >>> actor_options("cpu", 4, 1.0)
        {'num_cpus': 1}
        >>> actor_options("cuda", 4, 1.0)
        {'num_cpus': 1, 'num_gpus': 0.25}
    """
    if not str(device).startswith("cuda"):
        return {"num_cpus": 1}
    if gpus <= 0:
        raise RuntimeError(f"device={device!r} but the Ray cluster has no GPU: start Ray on a machine "
                           "with a GPU, or evaluate with --device cpu.")
    return {"num_cpus": 1, "num_gpus": min(1.0, gpus / workers)}


class _EpisodeWorker:
    """A Ray actor: one agent, runs chunks of episodes of one env id (the env lives for the chunk)."""

    def __init__(self, agent_reference: str, device: str, threads: int = DEFAULT_THREADS) -> None:
        import textgym  # noqa: F401 - registers the env ids in the worker process
        from textgym.agents import load_agent

        set_threads(threads)
        self.agent = load_agent(agent_reference, device=device)

    def run(self, chunk: list[tuple[int, EpisodeSpec]]) -> list[tuple[int, EpisodeResult]]:
        results = evaluate(self.agent, [spec for _, spec in chunk], num_envs=1)
        return [(index, result) for (index, _), result in zip(chunk, results, strict=True)]


def run_episodes(agent_reference: str, episodes: Sequence[EpisodeSpec], backend: str = "local",
                 num_envs: int = 1, device: str = "cpu", address: str | None = None,
                 on_result: Callable[[EpisodeResult], None] | None = None,
                 threads: int = DEFAULT_THREADS) -> list[EpisodeResult]:
    """Evaluate with the chosen backend (see the module docstring)."""
    if check_backend(backend) == "local":
        return run_local(agent_reference, episodes, num_envs, device, on_result, threads)
    workers = None if address else num_envs  # a cluster's size is its own
    return run_ray(agent_reference, episodes, address=address, num_workers=workers, device=device,
                   on_result=on_result, threads=threads)
