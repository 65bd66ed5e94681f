"""Baseline agents and `load_agent`, which turns a name, a saved directory or `module:Class`
into an agent."""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import sys
from pathlib import Path
from typing import Any

from textgym.agents.base import Agent, OracleAgent, RandomAgent, read_agent_file

__all__ = ["BUILTIN_AGENTS", "Agent", "OracleAgent", "RandomAgent", "load_agent"]

BUILTIN_AGENTS: dict[str, type[Agent]] = {"random": RandomAgent, "oracle": OracleAgent}
"""Agents that need no training, by name."""


def import_object(reference: str) -> Any:
    """`package.module:Name` or `path/to/file.py:Name`."""
    target, _, name = reference.rpartition(":")
    if not target or not name:
        raise ValueError(f"{reference!r} is not of the form module:Class or path/to/file.py:Class.")
    if target.endswith(".py"):
        path = Path(target)
        if not path.is_file():
            raise FileNotFoundError(f"No Python file {path} (from --agent {reference!r}).")
        spec = importlib.util.spec_from_file_location(path.stem, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as error:
            raise ValueError(f"Cannot import module {target!r} (from {reference!r}): {error}") from error
    try:
        return getattr(module, name)
    except AttributeError as error:
        raise ValueError(f"Module {target!r} has no {name!r} (from {reference!r}).") from error


def load_agent(reference: str | Path, device: str = "cpu") -> Any:
    """An agent from a built-in name ("random", "oracle"), a directory written by `Agent.save`,
    or `module:Class` / `file.py:Class` (instantiated with `device=` when it takes one)."""
    reference = str(reference)
    if reference in BUILTIN_AGENTS:
        return BUILTIN_AGENTS[reference](device=device)
    path = Path(reference)
    if not path.exists() and ":" not in reference:
        raise FileNotFoundError(f"No agent {reference!r}: not a built-in agent "
                                f"({', '.join(BUILTIN_AGENTS)}), a saved agent directory, or module:Class.")
    if path.exists():
        meta = read_agent_file(path)
        cls = import_object(meta["class"])
        if not (isinstance(cls, type) and issubclass(cls, Agent)):
            raise ValueError(f"{meta['class']} (from {path}) is not a textgym Agent class.")
        return cls.load(path, device=device)
    obj = import_object(reference)
    if isinstance(obj, type):
        takes_device = "device" in inspect.signature(obj).parameters
        obj = obj(device=device) if takes_device else obj()
    if not callable(getattr(obj, "act", None)):
        raise ValueError(f"{reference} has no act(observation, info) method, so it cannot be evaluated.")
    return obj
