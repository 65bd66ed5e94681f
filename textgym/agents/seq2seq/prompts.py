"""The prompts of Sub-goal Distillation (Hashemzadeh et al., 2024), and the episode memory they read.

Every prompt is built from an `EpisodeMemory`: the task, the time (commands sent) and score, the
last K steps (action, reward, observation), the current look and inventory, the rooms visited and,
for the hierarchical agent, the sub-goals so far. Training examples are made by replaying gold
records through the same memory the agents fill while they play, so a model sees at test time
exactly the kind of text it was trained on. The fields follow the paper's order, separated by
`</s>`; each has a word budget (`PromptConfig`) so inputs stay short enough for small models.

    >>> memory = EpisodeMemory("Your task is to find a living thing.")
    >>> memory.observe("This room is called the hallway. In it, you see: \\n\\tthe agent", "", 0)
    >>> memory.record("go to kitchen", 8, "You move to the kitchen.")
    >>> look = "This room is called the kitchen. In it, you see: \\n\\tthe agent\\n\\ta fridge"
    >>> memory.observe(look, "", 8)
    >>> print(bc_prompt(memory, PromptConfig(look_words=13)))
    Your task is to find a living thing. </s> Time: 1; Score: 8; </s> Action history: </s> go to kitchen \
(+8) --> You move to the kitchen. </s> Current environment: This room is called the kitchen. In it, you \
see: | a fridge </s> Current inventory: nothing </s> Visited rooms: hallway, kitchen </s> What action should \
you do next? </s>

Targets are the env's own commands (not the paper's formalised `PICK(x)` syntax, whose inverse the
public code forgot to apply before stepping the env); the executor's end of a sub-goal is `END_SG`.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from textgym.data.tokenizer import words
from textgym.validation import check_integer

END_SG = "END_SG"
"""The executor's pseudo-action: the current sub-goal is done (the env is not stepped)."""
END_SG_OBSERVATION = "The current subgoal is done."
"""What the history shows after `END_SG`."""
COMPLETE_TASK = "complete_task"
"""The planner's last sub-goal: nothing left to do."""
SEP = " </s> "

_ROOM = re.compile(r"\bcalled the ([^.\n]+)\.")
_NOISE = (" (that is open)", " (containing nothing)", "\n\tthe agent", "\n\ta substance called air")


@dataclass(frozen=True)
class PromptConfig:
    """Word budgets of the prompt fields (the start of each text is kept).

    Attributes:
        history: past steps shown (the most recent ones); the paper shows 10.
        task_words: words of the task description.
        observation_words: words of each past observation.
        look_words: words of the current look.
        inventory_words: words of the inventory.
        completed_subgoals: completed sub-goals shown (the most recent ones).
    """

    history: int = 4
    task_words: int = 60
    observation_words: int = 16
    look_words: int = 64
    inventory_words: int = 16
    completed_subgoals: int = 8

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            check_integer(f"PromptConfig.{name}", value)

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


@dataclass(frozen=True)
class Step:
    """One entry of the action history (an env command, or the executor's `END_SG`)."""

    action: str
    reward: float
    observation: str


@dataclass
class EpisodeMemory:
    """What an agent knows of its episode at a decision point.

    Attributes:
        task: the goal text.
        time: env commands sent so far (`END_SG` does not count).
        score: the current score.
        steps: the action history, oldest first.
        look, inventory: the current look and inventory.
        rooms: rooms seen so far, in order of first visit.
        subgoals: the sub-goals so far; the last one is current, the others are completed.
    """

    task: str
    time: int = 0
    score: float = 0.0
    steps: list[Step] = field(default_factory=list)
    look: str = ""
    inventory: str = ""
    rooms: list[str] = field(default_factory=list)
    subgoals: list[str] = field(default_factory=list)

    def observe(self, look: str, inventory: str, score: float) -> None:
        """The state after the last command (or at the start)."""
        self.look, self.inventory, self.score = look, inventory, float(score)
        room = _ROOM.search(look.split("\n", 1)[0])
        if room and room.group(1) not in self.rooms:
            self.rooms.append(room.group(1))

    def record(self, action: str, reward: float, observation: str) -> None:
        """A step of the history; an env command also advances the time."""
        self.steps.append(Step(action, float(reward), observation))
        if action != END_SG:
            self.time += 1

    def recent_actions(self, count: int) -> list[str]:
        """The last `count` env commands."""
        actions = [step.action for step in self.steps if step.action != END_SG]
        return actions[-count:] if count else []


def sanitize(text: str) -> str:
    """One line of text: newlines and tabs become ' | '; ScienceWorld's filler (the agent and the air
    in every room, "(that is open)") is dropped, as the paper does, to save words."""
    for noise in _NOISE:
        text = text.replace(noise, "")
    text = re.sub(r"\s*[\n\t]+\s*", " | ", text.strip())
    return " ".join(text.replace("green house", "greenhouse").split())


def first_words(text: str, count: int) -> str:
    """The first `count` words of the sanitized text."""
    return " ".join(sanitize(text).split()[:count])


def _header(memory: EpisodeMemory, config: PromptConfig) -> str:
    return (f"{first_words(memory.task, config.task_words)}{SEP}Time: {memory.time}; "
            f"Score: {memory.score:g};")


def _subgoals(memory: EpisodeMemory, config: PromptConfig) -> str:
    completed = memory.subgoals[:-1][-config.completed_subgoals:] if config.completed_subgoals else []
    current = memory.subgoals[-1] if memory.subgoals else "none"
    done = f"Completed subtasks are: {', '.join(completed)}." if completed else "No completed subtasks."
    return f"{done} The current subtask is {current}."


def _state(memory: EpisodeMemory, config: PromptConfig) -> str:
    history = memory.steps[-config.history:] if config.history else []
    lines = " | ".join(f"{step.action} (+{step.reward:g}) --> "
                       f"{first_words(step.observation, config.observation_words)}" for step in history)
    return (f"Action history: {SEP.strip()} {lines or 'none'}{SEP}"
            f"Current environment: {first_words(memory.look, config.look_words) or 'unknown'}{SEP}"
            f"{_inventory_and_rooms(memory, config)}")


def _inventory_and_rooms(memory: EpisodeMemory, config: PromptConfig) -> str:
    inventory = memory.inventory.replace("In your inventory, you see:", "")
    inventory = first_words(inventory, config.inventory_words)
    return (f"Current inventory: {inventory or 'nothing'}{SEP}"
            f"Visited rooms: {', '.join(memory.rooms) or 'none'}")


def bc_prompt(memory: EpisodeMemory, config: PromptConfig) -> str:
    """Behaviour cloning (the paper's no-sub-goal baseline): context -> next command."""
    return (f"{_header(memory, config)}{SEP}{_state(memory, config)}{SEP}"
            f"What action should you do next?{SEP.rstrip()}")


def executor_prompt(memory: EpisodeMemory, config: PromptConfig) -> str:
    """Executor: context, completed and current sub-goals -> next command or `END_SG`."""
    return (f"{_header(memory, config)}{SEP}{_subgoals(memory, config)}{SEP}{_state(memory, config)}{SEP}"
            f"What action should you do next?{SEP.rstrip()}")


def planner_prompt(memory: EpisodeMemory, config: PromptConfig) -> str:
    """Planner: the same context -> the sub-goal to pursue now (`complete_task` after the last)."""
    if not memory.subgoals:
        return first_subgoal_prompt(memory, config)
    return (f"{_header(memory, config)}{SEP}{_subgoals(memory, config)}{SEP}{_state(memory, config)}{SEP}"
            f"What subtask should you do next?{SEP.rstrip()}")


def first_subgoal_prompt(memory: EpisodeMemory, config: PromptConfig) -> str:
    """The planner at t=0, before any command: task and surroundings -> the first sub-goal."""
    return (f"{_header(memory, config)}{SEP}"
            f"Current environment: {first_words(memory.look, config.look_words) or 'unknown'}{SEP}"
            f"{_inventory_and_rooms(memory, config)}{SEP}You just have started this task. You did not do "
            f"any actions yet. What is the first subtask you should do?{SEP.rstrip()}")


def same_text(a: str, b: str) -> bool:
    """Equal up to case, spacing and tokenization ('navigate_to ( kitchen )' == 'navigate_to(kitchen)')."""
    return words(a) == words(b)


# ------------------------------------------------------------------------------------ training data
def kept_steps(episode: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """The gold steps that become training examples. As in the paper, `look around` (the look is in
    every prompt) and `close door` steps are dropped, and so are door openings that did nothing (in
    the easy simplification every door is open: "The door is already open.")."""
    return [record for record in episode if not _dropped(record)]


def _dropped(record: dict[str, Any]) -> bool:
    action = " ".join(words(record["action"]))
    return action == "look around" or action.startswith("close door") or (
        action.startswith("open door") and "already open" in record["next_observation"])


def bc_examples(episode: Sequence[dict[str, Any]], config: PromptConfig) -> list[tuple[str, str]]:
    """(prompt, gold command) for every kept step of a gold episode, filling the memory as the agent does."""
    steps = kept_steps(episode)
    if not steps:
        return []
    examples = []
    memory = EpisodeMemory(steps[0]["task_description"])
    for record in steps:
        memory.observe(record["look"], record["inventory"], record["score"] - record["reward"])
        examples.append((bc_prompt(memory, config), record["action"]))
        memory.record(record["action"], record["reward"], record["next_observation"])
    return examples


def subgoal_examples(episode: Sequence[dict[str, Any]], config: PromptConfig,
                     ) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """(planner examples, executor examples) of an annotated episode (`textgym data annotate`).

    The planner is asked before every executor decision, as at inference: at t=0 (first-sub-goal
    prompt), after each `END_SG` (-> the next sub-goal, or `complete_task` after the last), and
    at every other decision (-> the current sub-goal again). The executor emits each kept command
    of a segment, then `END_SG` after its last one, which enters the history without an env step.
    """
    planner: list[tuple[str, str]] = []
    executor: list[tuple[str, str]] = []
    steps = kept_steps(episode)
    if not steps:
        return planner, executor
    memory = EpisodeMemory(steps[0]["task_description"])
    for index, record in enumerate(steps):
        following = steps[index + 1] if index + 1 < len(steps) else None
        memory.observe(record["look"], record["inventory"], record["score"] - record["reward"])
        if not memory.subgoals or memory.steps[-1].action == END_SG:  # a segment begins
            planner.append((planner_prompt(memory, config), record["subgoal"]))
            memory.subgoals.append(record["subgoal"])
        else:
            planner.append((planner_prompt(memory, config), memory.subgoals[-1]))
        executor.append((executor_prompt(memory, config), record["action"]))
        memory.record(record["action"], record["reward"], record["next_observation"])
        if following is None or following["segment"] != record["segment"]:  # the segment's last command
            after = following or record
            memory.observe(after["look"], after["inventory"], record["score"])
            planner.append((planner_prompt(memory, config), memory.subgoals[-1]))
            executor.append((executor_prompt(memory, config), END_SG))
            memory.record(END_SG, 0.0, END_SG_OBSERVATION)
    planner.append((planner_prompt(memory, config), COMPLETE_TASK))
    return planner, executor
