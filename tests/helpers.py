"""Helpers shared by test modules."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path


def children(pid: int | None = None, name: str | None = None) -> set[int]:
    """Live child processes of `pid` (default: this test process), optionally only those called `name`."""
    command = ["pgrep", "-P", str(pid or os.getpid()), *([name] if name else [])]
    out = subprocess.run(command, capture_output=True, text=True)
    return {int(p) for p in out.stdout.split() if pid_alive(int(p))}


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:
        with open(f"/proc/{pid}/stat") as stat:  # a zombie is dead for our purposes
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def wait_until_dead(pid: int, timeout: float = 15.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return True
        time.sleep(0.1)
    return False


def textworld_story(challenge: str = "coin_collector", seed: int = 1, **settings: object) -> Path:
    """A Z-machine story file made by TextWorld's real generator (cached per test session), for the
    Jericho tests: no classic game may be shipped, and Jericho plays TextWorld's games."""
    from textgym.envs.textworld_games import ensure_games, resolve_settings

    return ensure_games(challenge, resolve_settings(challenge, settings), [seed])[seed]
