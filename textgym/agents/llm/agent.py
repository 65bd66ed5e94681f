"""`LLMAgent`: a zero-shot language-model agent over any chat LLM, batched over envs.

Each parallel episode (slot) keeps a conversation in the format of `textgym.wrappers.chat`: the
system message with the task and the reply rules ("act", or "react": think, then act), then one
user turn per observation (with the reward, and optionally the look, the inventory and some
admissible commands) and the commands sent as assistant turns. Before every request the oldest
turns are dropped until the conversation fits `context_tokens` (the system message and the
current observation always stay). All slots that need a command are asked in one backend call.

The reply is parsed with `parse_reply`. With `ground` set ("overlap" or "minilm", the matchers of
the seq2seq agents) and the env's admissible commands at hand, a command that is not admissible is
replaced by the most similar admissible one. Each fallback is counted per episode and reported
with the token counts (`episode_usage`, which `evaluate` writes into episodes.csv and
results.json):

- `grounded`: replies whose command was not admissible and was replaced;
- `no_command`: replies that named no command (`fallback_command` is sent, grounded as well);
- `too_long`: commands cut to `max_command_length`;
- `tokens_in`, `tokens_out`, `requests`, `retries`, `llm_seconds` (time spent waiting for replies).

Sampling: temperature 0 is greedy, so an episode repeats exactly; above 0 every request carries
a seed made from the episode's seed, `seed` and the step, which servers that honour `seed`
(vLLM, OpenAI) use to repeat an episode as well.
"""

from __future__ import annotations

import time
import zlib
from collections.abc import Sequence
from typing import Any

from textgym.agents.base import SeededAgent
from textgym.llm_backends import ChatBackend, LocalChat, Messages, OpenAIChat
from textgym.validation import check_integer, check_non_negative, check_positive
from textgym.wrappers.chat import (
    assistant_message,
    check_style,
    parse_reply,
    shown_commands,
    system_message,
    user_message,
)

GROUNDINGS = ("none", "overlap", "minilm")
USAGE_KEYS = ("tokens_in", "tokens_out", "requests", "retries", "llm_seconds", "grounded", "no_command",
              "too_long")


class LLMAgent(SeededAgent):
    """A chat LLM that reads the episode as a conversation and answers with the next command.

    Args:
        model: with `endpoint`, the served model's name; without, a local model: a folder, a model
            id in the local Hugging Face cache, a `.gguf` file, or "smollm2" (the default).
        endpoint: an OpenAI-compatible API base URL (http://HOST:PORT/v1); None: run `model` here.
        api_key_env: environment variable with the endpoint's API key.
        style: "act" (one command line) or "react" (a thought, then the command).
        temperature: 0 for greedy decoding.
        seed: added to every episode's seed for sampling.
        max_tokens: reply budget per step (None: 32 for "act", 96 for "react").
        context_tokens: budget of each request's prompt; older turns are dropped to fit it.
        max_commands: admissible commands shown per turn (0: none).
        look, inventory: show the look / inventory in each turn.
        ground: "overlap", "minilm" or "none" (send the command as parsed).
        fallback_command: what a reply with no command sends.
        max_command_length: longer commands are cut (every textgym env accepts 512 characters).
        concurrency, timeout, retries: the endpoint's request settings (see `OpenAIChat`).
        gguf_file: the GGUF file inside a local `model` folder.
        device: where a local model, and the MiniLM matcher, run.
    """

    name = "llm"

    def __init__(self, model: str = "smollm2", endpoint: str | None = None,
                 api_key_env: str = "OPENAI_API_KEY", style: str = "act", temperature: float = 0.0,
                 seed: int = 0, max_tokens: int | None = None, context_tokens: int = 2048,
                 max_commands: int = 0, look: bool = False, inventory: bool = False, ground: str = "overlap",
                 fallback_command: str = "look around", max_command_length: int = 512, concurrency: int = 8,
                 timeout: float = 60.0, retries: int = 3, gguf_file: str | None = None,
                 device: str = "cpu") -> None:
        super().__init__(device)
        self.settings = self.check_config({
            "model": model, "endpoint": endpoint, "api_key_env": api_key_env, "style": style,
            "temperature": temperature, "seed": seed, "max_tokens": max_tokens,
            "context_tokens": context_tokens,
            "max_commands": max_commands, "look": look, "inventory": inventory, "ground": ground,
            "fallback_command": fallback_command, "max_command_length": max_command_length,
            "concurrency": concurrency, "timeout": timeout, "retries": retries, "gguf_file": gguf_file})
        self.style = style
        self.required_info = tuple(key for key, wanted in (
            ("admissible_commands", ground != "none" or max_commands > 0), ("look", look),
            ("inventory", inventory)) if wanted)
        if endpoint:
            self.backend: ChatBackend = OpenAIChat(endpoint, model, api_key_env, concurrency, timeout,
                                                   retries)
        else:
            self.backend = LocalChat(model, gguf_file, device)
        self.similarity = None
        if ground != "none":
            from textgym.agents.seq2seq.decoding import make_similarity

            self.similarity = make_similarity(ground, device)
        self.reset(1)

    @staticmethod
    def check_config(config: dict[str, Any]) -> dict[str, Any]:
        """The settings checked and completed (so a bench run fails before it trains anything)."""
        settings = dict(config)
        check_style(settings.get("style", "act"))
        if settings.get("ground", "overlap") not in GROUNDINGS:
            raise ValueError(f"Unknown grounding {settings['ground']!r}; choose one of {GROUNDINGS}.")
        settings["temperature"] = check_non_negative("temperature", settings.get("temperature", 0.0))
        if settings.get("max_tokens") is None:
            settings["max_tokens"] = 96 if settings.get("style") == "react" else 32
        for name, low in (("seed", 0), ("max_tokens", 1), ("context_tokens", 64), ("max_commands", 0),
                          ("max_command_length", 1), ("concurrency", 1), ("retries", 0)):
            if name in settings:
                check_integer(name, settings[name], low=low)
        if "timeout" in settings:
            check_positive("timeout", settings["timeout"])
        return settings

    def config(self) -> dict[str, Any]:
        return dict(self.settings)

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self.conversations: list[Messages] = [[] for _ in range(num_envs)]
        self.usage: list[dict[str, float]] = [dict.fromkeys(USAGE_KEYS, 0) for _ in range(num_envs)]
        self._steps = [0] * num_envs
        self._scores = [0.0] * num_envs

    def reset_env(self, slot: int, seed: int | None = None) -> None:
        super().reset_env(slot, seed)
        self.conversations[slot] = []
        self.usage[slot] = dict.fromkeys(USAGE_KEYS, 0)
        self._steps[slot], self._scores[slot] = 0, 0.0

    def episode_usage(self, slot: int) -> dict[str, float]:
        """What the slot's episode cost (see the module doc)."""
        usage = dict(self.usage[slot])
        usage["llm_seconds"] = round(usage["llm_seconds"], 3)
        return usage

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(infos)) if slots is None else slots)
        prompts = [self._prompt(slot, observation, info) for slot, observation, info
                   in zip(slots, observations, infos, strict=True)]
        seeds = [None if self._seeds[slot] is None else
                 zlib.crc32(f"{self._seeds[slot]}:{self.settings['seed']}:{self._steps[slot]}".encode())
                 for slot in slots]
        started = time.perf_counter()
        replies = self.backend.complete(prompts, self.settings["max_tokens"], self.settings["temperature"],
                                        seeds)
        seconds = (time.perf_counter() - started) / max(1, len(slots))  # a batch's wait, shared by its slots
        commands = []
        for slot, info, reply in zip(slots, infos, replies, strict=True):
            usage = self.usage[slot]
            usage["tokens_in"] += reply.tokens_in
            usage["tokens_out"] += reply.tokens_out
            usage["requests"] += 1
            usage["retries"] += reply.retries
            usage["llm_seconds"] += seconds
            command = self._command(slot, reply.text, info)
            self.conversations[slot].append(assistant_message(command))
            self._steps[slot] += 1
            commands.append(command)
        return commands

    def _prompt(self, slot: int, observation: str, info: dict[str, Any]) -> Messages:
        """The slot's conversation with the new observation, trimmed to the token budget."""
        conversation = self.conversations[slot]
        if not conversation:
            conversation.append(system_message(info.get("task", ""), self.style))
            reward = None
        else:
            reward = float(info.get("score", 0.0)) - self._scores[slot]
        self._scores[slot] = float(info.get("score", 0.0))
        shown = {key: info[key] for key in ("score", "look", "inventory", "admissible_commands")
                 if key in info and (key in ("score", "admissible_commands") or self.settings[key])}
        listed, total = shown_commands(shown, self.settings["max_commands"], self.rngs[slot])
        shown.pop("admissible_commands", None)
        conversation.append(user_message(observation, shown, reward, listed, total))
        budget = self.settings["context_tokens"]
        first = 1  # drop whole (user, assistant) pairs after the system message, oldest first
        while len(conversation) - first > 1 and \
                self.backend.count_tokens([conversation[0], *conversation[first:]]) > budget:
            first += 2
        return [conversation[0], *conversation[first:]]

    def _command(self, slot: int, reply: str, info: dict[str, Any]) -> str:
        """The command to send for a reply, counting the fallbacks it needed."""
        usage = self.usage[slot]
        parsed = parse_reply(reply, self.style, self.settings["max_command_length"])
        if parsed.problem is not None:
            usage[parsed.problem] += 1
        command = parsed.command or self.settings["fallback_command"]
        admissible = info.get("admissible_commands")
        if self.similarity is None or not admissible:
            return command
        from textgym.agents.seq2seq.decoding import normalize

        spelled = {normalize(candidate): candidate for candidate in admissible}
        if normalize(command) in spelled:
            return spelled[normalize(command)]
        usage["grounded"] += 1
        scores = self.similarity([command], list(admissible))
        return str(admissible[int(scores.argmax())])
