"""A chat view of any textgym env, for LLM agents and LLM RL: observations are chat messages and
actions are assistant replies.

The prompts, the turn format and the reply parser live here, below the agents, so that the
`LLMAgent` (textgym.agents.llm) and an RL trainer rolling out `ChatView` episodes see exactly the
same conversation and turn a reply into a command the same way:

- the system message states the task and the rules of the reply: `"act"` asks for one line
  `Action: <command>`; `"react"` asks for a one-sentence `Thought:` first (ReAct, Yao et al. 2023);
- one user turn per observation: what the env answered, the reward and score once the episode
  has begun, and optionally the look, the inventory and some admissible commands;
- `parse_reply` takes the command from the last `Action:` line (in `"act"` style a reply without
  one is read as the command itself, first line only), strips quotes and markdown, folds it into
  the env's printable charset and cuts it to the action space's length.

    >>> parse_reply("Thought: the door is closed.\\nAction: open door to kitchen", "react")
    ParsedReply(command='open door to kitchen', problem=None)
    >>> parse_reply("**Action:** `go to kitchen`.", "act")
    ParsedReply(command='go to kitchen', problem=None)
    >>> parse_reply("Thought: I am not sure what to do.", "react")
    ParsedReply(command=None, problem='no_command')
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np

from textgym.envs.base import TextEnv
from textgym.spaces import TextSpace, to_printable
from textgym.wrappers.candidates import select_candidates

Message = dict[str, str]
STYLES = ("act", "react")
PROBLEMS = ("no_command", "too_long")
"""What `parse_reply` can find wrong with a reply (each a counted fallback, never an error)."""

_RULES = {
    "act": "Reply with exactly one line of the form\nAction: <command>\nand nothing else.",
    "react": "Reply with two lines: first one short sentence of reasoning of the form\nThought: <reasoning>\n"
             "then the command of the form\nAction: <command>",
}
_SYSTEM = (
    "You are playing a text-based game. Your task: {task}\n"
    "Each turn you see what happened; you act by typing one command, such as 'look around', "
    "'open door to kitchen', 'go to kitchen', 'pick up thermometer', 'focus on <object>', "
    "'inventory' or 'wait1'. {rules}"
)
_ACTION = re.compile(r"^\W*(?:action|command)\W*?\s*[:=]\s*(.*)$", re.IGNORECASE | re.MULTILINE)
_THOUGHT = re.compile(r"^\W*thought\W*?\s*:", re.IGNORECASE)
_WRAPPING = " \t\"'`*_>.;"


def check_style(style: str) -> str:
    if style not in STYLES:
        raise ValueError(f"Unknown prompt style {style!r}; choose one of {STYLES}.")
    return style


def system_message(task: str, style: str = "act") -> Message:
    """The task and the reply rules."""
    return {"role": "system", "content": _SYSTEM.format(task=task.strip(), rules=_RULES[check_style(style)])}


def user_message(observation: str, info: dict[str, Any], reward: float | None = None,
                 commands: Sequence[str] = (), total: int = 0) -> Message:
    """One observation as a user turn; `reward` is None on the first turn (nothing happened yet),
    `commands` are admissible commands to show (of `total` in all)."""
    parts = [observation.strip() or "(nothing happened)"]
    if reward is not None:
        parts.append(f"Reward: {reward:+g}. Score: {float(info.get('score', 0.0)):g}.")
    for key, label in (("look", "You see"), ("inventory", "Inventory")):
        if info.get(key):
            parts.append(f"{label}: {info[key].strip()}")
    if commands:
        more = f" (and {total - len(commands)} more)" if total > len(commands) else ""
        parts.append(f"Some valid commands: {', '.join(commands)}{more}")
    return {"role": "user", "content": "\n".join(parts)}


def assistant_message(command: str) -> Message:
    """How a sent command appears in the agent's history (its reasoning is not kept)."""
    return {"role": "assistant", "content": f"Action: {command}"}


@dataclass(frozen=True)
class ParsedReply:
    """The command a reply names (None when it names none) and what was wrong with the reply."""

    command: str | None
    problem: str | None = None


def parse_reply(reply: str | None, style: str = "act", max_length: int = 512) -> ParsedReply:
    """The command in an assistant reply (see the module doc); a command longer than `max_length`
    is cut to it (problem "too_long"), no command gives `command=None` (problem "no_command").

        >>> parse_reply("open the fridge and then " * 40, "act", max_length=32)
        ParsedReply(command='open the fridge and then open', problem='too_long')
    """
    text = reply or ""
    found = _ACTION.findall(text)
    if found:
        line = found[-1]
    elif check_style(style) == "act":
        line = next((line for line in text.splitlines() if line.strip() and not _THOUGHT.match(line)), "")
    else:
        line = ""
    command = " ".join(to_printable(line, len(line)).split()).strip(_WRAPPING)
    if not command:
        return ParsedReply(None, "no_command")
    if len(command) > max_length:
        cut = command[:max_length + 1].rsplit(" ", 1)[0] if " " in command[:max_length + 1] else ""
        return ParsedReply((cut or command[:max_length]).strip(_WRAPPING) or command[:max_length], "too_long")
    return ParsedReply(command)


def shown_commands(info: dict[str, Any], limit: int, rng: np.random.Generator) -> tuple[list[str], int]:
    """Up to `limit` admissible commands spread over their verbs (`select_candidates`), and how many
    there are in all."""
    commands = list(info.get("admissible_commands") or ())
    if limit <= 0 or not commands:
        return [], len(commands)
    return select_candidates(commands, limit, rng), len(commands)


class ChatView(gym.Wrapper[tuple[Message, ...], str, Any, str]):
    """Observations are the conversation so far; an action is the assistant's next reply.

    Example:
        >>> import gymnasium as gym, textgym
        >>> from textgym.wrappers import ChatView
        >>> env = ChatView(gym.make("TextWorldExpress/coin-v0"), max_turns=5)
        >>> messages, info = env.reset(seed=0)
        >>> [m["role"] for m in messages]
        ['system', 'user']
        >>> reply = "Thought: look first.\\nAction: look around"
        >>> messages, reward, terminated, truncated, info = env.step(reply)
        >>> [m["role"] for m in messages], info["command"], info["reply_problem"]
        (['system', 'user', 'assistant', 'user'], 'look around', None)
        >>> messages, reward, terminated, truncated, info = env.step("I have no idea")
        >>> info["command"], info["reply_problem"]
        ('I have no idea', None)
        >>> env.close()

    The conversation holds the replies as given (so a trainer's tokens line up with it). A reply
    is parsed with `parse_reply`; a reply that names no command does not step the env: the next
    user turn says so, the reward is `invalid_reward`, and `info["reply_problem"]` is
    "no_command". An over-long command is cut to the action space ("too_long"). Every reply is a
    turn: the episode is truncated after `max_turns` of them, whether or not they stepped the env.

    Args:
        env: a textgym env (any wrappers around a `TextEnv`).
        style: "act" or "react" (see the module doc).
        max_commands: admissible commands listed in each user turn (0: none; the env is then made
            to compute them only if it does anyway).
        show_look, show_inventory: add the env's look / inventory to each user turn (the env must
            be made with `extra_info=("look", "inventory")`).
        max_turns: replies per episode (default: the env's step limit, else 100).
        invalid_reward: reward for a reply that names no command.
        max_reply_length: the action space's `max_length` (characters of a reply).

    Observation Space:
        `Sequence(Dict(role=Text, content=Text))`: a tuple of `{"role", "content"}` messages
        (`list(obs)` for trainers that append to it).

    Information (added):
        command: the command sent to the env (None when the reply named none).
        reply_problem: None, "no_command" or "too_long".
        turns: replies so far.

    Change logs:
        v0.1.0: initial version.
    """

    def __init__(self, env: gym.Env, style: str = "act", max_commands: int = 0, show_look: bool = False,
                 show_inventory: bool = False, max_turns: int | None = None, invalid_reward: float = 0.0,
                 max_reply_length: int = 4096) -> None:
        super().__init__(env)
        if not isinstance(env.unwrapped, TextEnv):
            raise TypeError(f"ChatView wraps textgym envs (a TextEnv inside); got "
                            f"{type(env.unwrapped).__name__}.")
        self.style = check_style(style)
        self.max_commands, self.show_look, self.show_inventory = max_commands, show_look, show_inventory
        limit = env.spec.max_episode_steps if env.spec is not None else None
        self.max_turns = max_turns or limit or 100
        self.invalid_reward = float(invalid_reward)
        self.max_command_length = env.unwrapped.action_space.max_length
        message = gym.spaces.Dict({"role": TextSpace(16), "content": TextSpace(1 << 20)})
        self.observation_space = gym.spaces.Sequence(message)
        self.action_space = TextSpace(max_reply_length)
        self._rng = np.random.default_rng()
        self._messages: list[Message] = []
        self._info: dict[str, Any] = {}
        self._turns = 0

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[tuple[Message, ...], dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        if seed is not None:
            self._rng = np.random.default_rng(seed)
        self._turns, self._info = 0, info
        self._messages = [system_message(info["task"], self.style), self._user(observation, info, None)]
        return tuple(self._messages), {**info, "turns": 0}

    def step(self, action: str) -> tuple[tuple[Message, ...], SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._messages:
            raise gym.error.ResetNeeded("Call reset() before step().")
        if not isinstance(action, str):
            raise TypeError(f"ChatView's actions are assistant replies (str), got {type(action).__name__}.")
        parsed = parse_reply(action, self.style, self.max_command_length)
        self._turns += 1
        self._messages.append({"role": "assistant", "content": action})
        if parsed.command is None:
            terminated, reward = False, self.invalid_reward
            info = {**self._info, "command": None}
            observation = ("Your reply named no command. Answer with one line: Action: <command>."
                           if self.style == "act" else "Your reply named no command. End it with "
                           "a line: Action: <command>.")
            self._messages.append({"role": "user", "content": observation})
            truncated = False
        else:
            observation, reward, terminated, truncated, info = self.env.step(parsed.command)
            self._info = info
            info = {**info, "command": parsed.command}
            self._messages.append(self._user(observation, info, float(reward)))
        truncated = bool(truncated or (self._turns >= self.max_turns and not terminated))
        info.update(reply_problem=parsed.problem, turns=self._turns)
        return tuple(self._messages), reward, bool(terminated), truncated, info

    def _user(self, observation: str, info: dict[str, Any], reward: float | None) -> Message:
        shown = {"score": info.get("score", 0.0)}
        if self.show_look:
            shown["look"] = info.get("look") or self.env.unwrapped.look()
        if self.show_inventory:
            shown["inventory"] = info.get("inventory") or self.env.unwrapped.inventory()
        if self.max_commands:
            commands = info.get("admissible_commands") or self.env.unwrapped.admissible_commands()
            shown["admissible_commands"] = commands
        listed, total = shown_commands(shown, self.max_commands, self._rng)
        return user_message(observation, shown, reward, listed, total)
