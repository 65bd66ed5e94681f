"""DRRN: Q-learning over candidate commands (the ScienceWorld paper's strongest RL baseline)."""

from textgym.agents.drrn.agent import DRRNAgent
from textgym.agents.drrn.model import DRRN

__all__ = ["DRRN", "DRRNAgent"]
