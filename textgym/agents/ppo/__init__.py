"""MaskablePPO (sb3-contrib) over candidate commands: stable-baselines3 on textgym, unmodified."""

from textgym.agents.ppo.agent import PPOAgent

__all__ = ["PPOAgent"]
