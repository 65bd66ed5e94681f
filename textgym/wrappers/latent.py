"""`LatentActions`: act in CoLA's latent action space instead of writing text.

A CoLA world model (`textgym.agents.cola`) turns a latent action (one of K) into the next token
of a command, greedily, given the prompt (task, recent commands, observation) and the tokens so
far. Under this wrapper an RL policy picks latents; the wrapper decodes them into a command and
sends it to the text env when it is finished. The token-level MDP nests inside the env-step one
(a semi-MDP), as in CoLA: reward arrives at the command boundary.

    >>> import gymnasium as gym, textgym
    >>> from textgym.agents.cola import CoLAConfig, CoLAModel, new_trunk
    >>> from textgym.data.tokenizer import build_word_tokenizer
    >>> tokenizer = build_word_tokenizer(["look around", "open door to kitchen", "focus on water"])
    >>> trunk = new_trunk(tokenizer, layers=1, width=32)
    >>> model = CoLAModel(trunk, tokenizer, CoLAConfig(codes=8))  # untrained: the interface only
    >>> env = LatentActions(gym.make("ScienceWorld/find-living-thing-v0"), model)
    >>> env.action_space, env.observation_space.shape
    (Discrete(8), (32,))
    >>> obs, info = env.reset(seed=0)
    >>> obs, reward, terminated, truncated, info = env.step(3)   # one latent: one token of a command
    >>> info["env_step_done"], info["latent_steps"]
    (False, 1)
    >>> LatentActions(env.env, model, chunk=4).action_space      # a whole command per step
    MultiDiscrete([8 8 8 8])
    >>> env.close()
"""

from __future__ import annotations

import importlib
import json
import numbers
import os
from pathlib import Path
from typing import Any, Protocol, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

OBSERVATIONS = ("state", "tokens")
DECODER_FILE = "cola.json"
"""The file of a saved decoder folder; its "class" entry (`module:Class`) names the class whose
`load(directory, device)` rebuilds it."""


class LatentDecoder(Protocol):
    """What `LatentActions` needs of a latent-action world model. `textgym.agents.cola.CoLAModel`
    is one; the wrapper depends on this shape, not on the agents package, so wrappers sit below it.

    Attributes:
        config: `max_command_tokens`, `max_context` and `prompt` (whose `prompt(task, history,
            observation)` writes the context text).
        codes: K, the number of latents.
        trunk: the language model (its output embeddings give the vocabulary and the state width).
        tokenizer, eos_id, pad_id, device: as their names say.
        blank: a bool tensor over the vocabulary, True for tokens that add no printable text.
    """

    config: Any
    codes: int
    trunk: Any
    tokenizer: Any
    eos_id: int
    pad_id: int
    blank: Any
    device: Any

    def to(self, device: Any) -> LatentDecoder: ...

    def eval(self) -> LatentDecoder: ...

    def encode_prompt(self, prompt: str) -> list[int]: ...

    def read(self, contexts: Any) -> tuple[Any, Any]: ...

    def next_tokens(self, last_states: Any, latents: Any, blank_so_far: Any) -> Any: ...

    def command_text(self, tokens: Any) -> str: ...


def load_decoder(directory: str | os.PathLike, device: str = "cpu") -> LatentDecoder:
    """The decoder saved in `directory` (see `DECODER_FILE`), on `device`."""
    path = Path(directory) / DECODER_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{directory} is not a CoLA model folder (no {DECODER_FILE}); train one "
                                "with `textgym train cola-world-model`.")
    try:
        module, _, name = json.loads(path.read_text())["class"].partition(":")
    except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError, AttributeError) as error:
        raise ValueError(f"Corrupt decoder file {path}: no 'class' entry ({error!r}).") from error
    return getattr(importlib.import_module(module), name).load(directory, device)


class LatentActions(gym.Wrapper[np.ndarray, Any, str, str], gym.utils.RecordConstructorArgs):
    """Latent actions of a CoLA world model as the action space of a text env.

    ## Action Space
    Token mode (default): `Discrete(K)`, one latent per step; each step appends one greedily
    decoded token to the command being written. The command goes to the inner env at EOS or at
    the model's token cap (`max_command_tokens`). Chunk mode (`chunk=L`): `MultiDiscrete([K] * L)`,
    one whole command per step, decoded from the L latents in order and ended at EOS or after L
    tokens (open loop: the policy does not see its own partial command; the world model is
    deterministic, so an agent can still simulate ahead). A command never starts with EOS or a
    blank token, so it always has text.

    ## Observation Space
    `observation="state"`: `Box(-inf, inf, (d,), float32)`, the trunk's last hidden state at the
    end of the context (prompt + partial command): what CoLA's own policy reads, ready for an
    MLP. `observation="tokens"`: `Box(0, vocab - 1, (max_context,), int64)`, the context's token
    ids right-padded with the pad id (for sequence models).

    ## Rewards
    The inner env's reward at the step that sends a command, 0 on the steps that only add a
    token (rescale with `gymnasium.wrappers.TransformReward` if needed: ScienceWorld's is 0-100).

    ## Episode End
    Terminated and truncated come from the inner env, at command boundaries; a `TimeLimit` on the
    inner env counts commands, so an episode lasts at most `max_command_tokens` latent steps per command.

    ## Information
    The inner env's last `info`, plus `latent_token` (the text of the token just decoded),
    `partial_command` (the command so far), `latent_steps` (latents spent on it),
    `env_step_done` (a command was sent this step) and then `command` (what was sent).

    ## Arguments
    - `env`: a text env (`gym.make("ScienceWorld/boil-v0")`, any textgym id).
    - `model`: a `LatentDecoder` (a `CoLAModel`) or the folder of one (`textgym train
      cola-world-model`); its policy is not used, the agent being trained replaces it.
    - `chunk`: None for token mode, or L (1 to `max_command_tokens`) for chunk mode.
    - `observation`: "state" or "tokens".
    - `device`: where the model runs.
    """

    def __init__(self, env: gym.Env, model: LatentDecoder | str | os.PathLike, *, chunk: int | None = None,
                 observation: str = "state", device: str = "cpu") -> None:
        gym.utils.RecordConstructorArgs.__init__(self, model=model, chunk=chunk, observation=observation,
                                                 device=device)
        gym.Wrapper.__init__(self, env)
        self.model = load_decoder(model, device) if isinstance(model, str | os.PathLike) else model.to(device)
        self.model.eval()
        config = self.model.config
        if chunk is not None and (isinstance(chunk, bool) or not isinstance(chunk, numbers.Integral)
                                  or not 1 <= chunk <= config.max_command_tokens):
            raise ValueError(f"chunk must be None (token mode) or an integer from 1 to the model's "
                             f"max_command_tokens ({config.max_command_tokens}), got {chunk!r}.")
        if observation not in OBSERVATIONS:
            raise ValueError(f"Unknown observation {observation!r}; choose one of {OBSERVATIONS}.")
        self.chunk = None if chunk is None else int(chunk)
        self.observation_kind = observation
        self._blank_tokens = self.model.blank.cpu()  # a host copy: no device round trip per token
        codes = self.model.codes
        self.action_space = (spaces.Discrete(codes) if chunk is None
                             else spaces.MultiDiscrete([codes] * self.chunk))
        vocab, width = self.model.trunk.get_output_embeddings().weight.shape
        self.observation_space = (
            spaces.Box(-np.inf, np.inf, shape=(width,), dtype=np.float32) if observation == "state"
            else spaces.Box(0, vocab - 1, shape=(config.max_context,), dtype=np.int64))
        self._episode = False

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
        text, info = self.env.reset(seed=seed, options=options)
        self._task = info.get("task", "")
        self._history: list[str] = []
        self._info = info
        self._begin_command(text)
        self._episode = True
        return self._observe(), self._annotate(info, token="", done=False)

    def step(self, action: Any) -> tuple[np.ndarray, SupportsFloat, bool, bool, dict[str, Any]]:
        if not self._episode:
            raise gym.error.ResetNeeded("Call reset() first, and again after the episode ends.")
        latents = self._check_action(action)
        token = ""
        for latent in latents:
            token = self._decode(latent)
            if self._finished():
                break
            self._read()
        if not self._finished():
            return self._observe(), 0.0, False, False, self._annotate(self._info, token=token, done=False)
        command = self.model.command_text(self._partial)
        spent = len(self._partial)
        text, reward, terminated, truncated, info = self.env.step(command)
        self._history.append(command)
        self._info = info
        self._task = info.get("task", self._task)
        self._begin_command(text)
        self._episode = not (terminated or truncated)
        info = self._annotate(info, token=token, done=True, spent=spent)
        info["command"] = command
        return self._observe(), reward, terminated, truncated, info

    # ------------------------------------------------------------------ internals
    def _check_action(self, action: Any) -> list[int]:
        if not self.action_space.contains(action if self.chunk is None else np.asarray(action)):
            raise ValueError(f"Action {action!r} is not in the latent action space {self.action_space}.")
        return [int(action)] if self.chunk is None else [int(a) for a in np.asarray(action)]

    def _begin_command(self, observation: str) -> None:
        prompt = self.model.config.prompt.prompt(self._task, self._history, observation)
        self._prompt = self.model.encode_prompt(prompt)
        self._partial: list[int] = []
        self._blank = True   # the command has no printable text yet
        self._decoding = self.model.begin([self._prompt], policy=False)  # KV cache of the context

    def _read(self) -> None:
        self.model.extend(self._decoding, self._token)

    def _decode(self, latent: int) -> str:
        import torch

        device = self.model.device
        self._token = self.model.next_tokens(self._decoding.last, torch.tensor([latent], device=device),
                                             torch.tensor([self._blank], device=device))
        token = int(self._token[0])   # the latent step's one wait on the device
        self._partial.append(token)
        self._blank = self._blank and bool(self._blank_tokens[token])
        return self.model.tokenizer.decode([token])

    def _finished(self) -> bool:
        cap = self.model.config.max_command_tokens if self.chunk is None else self.chunk
        return bool(self._partial) and (self._partial[-1] == self.model.eos_id or len(self._partial) >= cap)

    def _observe(self) -> np.ndarray:
        if self.observation_kind == "state":
            return self._decoding.last[0].float().cpu().numpy()
        context = [*self._prompt, *self._partial]
        ids = np.full(self.model.config.max_context, self.model.pad_id, dtype=np.int64)
        ids[: len(context)] = context
        return ids

    def _annotate(self, info: dict[str, Any], *, token: str, done: bool,
                  spent: int | None = None) -> dict[str, Any]:
        return {**info, "latent_token": token, "partial_command": self.model.command_text(self._partial),
                "latent_steps": len(self._partial) if spent is None else spent, "env_step_done": done}
