"""The Ray connection that `textgym bench --backend ray` and `textgym data gold --backend ray` share."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import Any

BACKENDS = ("local", "ray")
"""Where work runs: in this machine's processes, or as tasks and actors on a Ray cluster."""


def check_backend(backend: str) -> str:
    if backend not in BACKENDS:
        raise ValueError(f"Unknown backend {backend!r}; choose one of {BACKENDS}.")
    return backend


@contextlib.contextmanager
def ray_session(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """The `ray` module, connected to the cluster at `address` (None: a local Ray on this machine,
    with `num_cpus` workers). A session this function started is shut down afterwards."""
    try:
        import ray
    except ImportError as error:
        raise RuntimeError("The ray backend needs Ray: pip install 'textgym[ray]'.") from error
    started_here = not ray.is_initialized()
    if started_here:
        ray.init(address=address, include_dashboard=False, log_to_driver=False, logging_level=logging.WARNING,
                 **({} if address else {"num_cpus": num_cpus}))
    try:
        yield ray
    finally:
        if started_here:
            ray.shutdown()
