"""Sub-goal segments of a gold episode: the `Segment` record, functional labels in the style of
Sub-goal Distillation (`label_segment`), and the offline segmentation from the simulator's own
progress (`progress_segments`).

Both annotators of `textgym data annotate` build on these: `progress` uses them alone, and the
`llm` annotator (`textgym.data.llm_annotator`) names the segments its LLM leaves unnamed with
`label_segment`. They live apart from `annotate` so neither annotator imports the other.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any


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
