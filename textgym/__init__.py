"""textgym: Gymnasium environments for ScienceWorld and other text-RL tasks, with sub-goal and
latent-action wrappers and baseline agents.

    >>> import gymnasium as gym, textgym
    >>> env = gym.make("ScienceWorld/boil-v0", split="train", simplification="easy")

Importing textgym registers every env id (`textgym.registered_ids()` lists them).
"""

from textgym.envs import (
    JavaNotFoundError,
    SimulatorCrashedError,
    Subgoal,
    TextEnv,
    register_textgym_envs,
    registered_ids,
)
from textgym.envs.scienceworld import SCIENCEWORLD_VERSION
from textgym.envs.textworld_express import TEXTWORLD_EXPRESS_VERSION

__version__ = "0.1.0"
__all__ = ["SCIENCEWORLD_VERSION", "TEXTWORLD_EXPRESS_VERSION", "JavaNotFoundError", "SimulatorCrashedError",
           "Subgoal", "TextEnv", "__version__", "register_textgym_envs", "registered_ids"]

register_textgym_envs()
