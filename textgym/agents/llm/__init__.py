"""LLM agents: a zero-shot chat-LLM baseline over any OpenAI-compatible endpoint or a local
transformers model (`LLMAgent`; its backends live in `textgym.llm_backends`, shared with the
LLM annotator), a local server for SmolLM2 (`serve`), and the TRL
adapter for LLM RL on `textgym.wrappers.ChatView` episodes (`trl`)."""

from textgym.agents.llm.agent import LLMAgent
from textgym.llm_backends import LocalChat, OpenAIChat, Reply

__all__ = ["LLMAgent", "LocalChat", "OpenAIChat", "Reply"]
