"""Every textgym env family, and the one function that registers their ids with Gymnasium.

One module per family (MiniGrid's layout); ids are `<Family>/<task>-v0` and everything else
(split, simplification, variation, game parameters) is a `gym.make` keyword.
"""

from __future__ import annotations

import gymnasium as gym

from textgym.envs import jericho, scienceworld, textworld_express, textworld_games
from textgym.envs.base import SPLITS, Subgoal, TextEnv, Transition
from textgym.envs.jericho import JerichoEnv, JerichoGameNotFoundError
from textgym.envs.jvm import JavaNotFoundError, SimulatorCrashedError
from textgym.envs.scienceworld import ScienceWorldEnv
from textgym.envs.textworld import TextWorldEnv
from textgym.envs.textworld_express import TextWorldExpressEnv

__all__ = ["FAMILIES", "SPLITS", "JavaNotFoundError", "JerichoEnv", "JerichoGameNotFoundError",
           "ScienceWorldEnv", "SimulatorCrashedError", "Subgoal", "TextEnv", "TextWorldEnv",
           "TextWorldExpressEnv", "Transition", "register_textgym_envs", "registered_ids"]

FAMILIES = ("ScienceWorld", "TextWorldExpress", "TextWorld", "Jericho")
"""The env families, in registration order (each id is `<Family>/<task>-v0`)."""

DEFAULT_MAX_EPISODE_STEPS = 100
"""Agent commands per episode, the limit of the papers' protocols."""


def _register(env_id: str, entry_point: str, **kwargs: object) -> None:
    if env_id not in gym.registry:
        gym.register(id=env_id, entry_point=entry_point, kwargs=kwargs,
                     max_episode_steps=DEFAULT_MAX_EPISODE_STEPS)


def register_textgym_envs() -> None:
    """Register every textgym id (`import textgym` calls this; calling it again is harmless)."""
    # ScienceWorld: the 30 tasks, in the paper's order ("1-1" boil ... "10-2").
    # ---------------------------------------------------------------------------------------
    for task in scienceworld.TASKS:
        _register(f"ScienceWorld/{task}-v0", "textgym.envs.scienceworld:ScienceWorldEnv", task=task)

    # TextWorldExpress: the 8 games of textworld-express, game parameters as make keywords.
    # ---------------------------------------------------------------------------------------
    for game in textworld_express.GAMES:
        _register(f"TextWorldExpress/{game}-v0", "textgym.envs.textworld_express:TextWorldExpressEnv",
                  game=game)

    # TextWorld: games made by TextWorld's own generators (`tw-make` challenges), cached on disk.
    # ---------------------------------------------------------------------------------------
    for challenge in textworld_games.CHALLENGES:
        _register(f"TextWorld/{challenge}-v0", "textgym.envs.textworld:TextWorldEnv", challenge=challenge)

    # Jericho: the games Jericho has bindings for (story files from the user), and any story file.
    # ---------------------------------------------------------------------------------------
    for game in (*jericho.GAMES, jericho.CUSTOM):
        _register(f"Jericho/{game}-v0", "textgym.envs.jericho:JerichoEnv", game=game)


def registered_ids(family: str | None = None) -> list[str]:
    """All textgym ids (or one family's), in registration order."""
    families = FAMILIES if family is None else (family,)
    return [env_id for env_id, spec in gym.registry.items()
            if spec.namespace in families and str(spec.entry_point).startswith("textgym.")]
