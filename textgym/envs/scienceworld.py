"""ScienceWorld (Wang et al., EMNLP 2022) as Gymnasium environments, with a fast simulator bridge.

The stock `scienceworld.ScienceWorldEnv.step` builds the full admissible-command list (1k-8k
strings, copied one py4j round trip at a time), the look, the inventory and the task text on
*every* step: 30-450 ms a step for a 3-12 ms simulator step. This module talks to the JVM's
`PythonInterface` directly: a step is the simulator step plus three scalar round trips, and the
admissible commands come only when asked, in one round trip, from `java/ScienceWorldBridge.java`:
the simulator's own computation redone in plain Java (most of the simulator's time goes to naming
every object uniquely with Scala collections), with the same commands and the same draws from the
simulator's random generator, compiled against its jar on first use (`envs.jvm.compiled_helpers`).
The same file gives each episode a parser that names each object once per command instead of once
per action tried. Without a JDK the simulator's own methods run.

It also makes the simulator deterministic. scienceworld 1.2.3 keeps objects in hash sets keyed by
identity hash codes, so the same commands list objects in a different order from run to run and
can even change what happens (allenai/ScienceWorld#33; 1.3.0 fixes it but is unreleased). The
JVM here runs with constant identity hash codes (`-XX:hashCode=2`), so sets iterate in insertion
order: the same seed and commands give the same observations, in a fresh JVM or a reused one.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import scienceworld
from scienceworld.constants import BASEPATH, JAR_PATH, TASK_PATH

from textgym.envs.base import Subgoal, TextEnv, Transition, closest
from textgym.envs.jvm import DEFAULT_HEAP, DETERMINISTIC_HASHES, JavaBacked, JavaSimulator

SCIENCEWORLD_VERSION: str = scienceworld.__version__
"""The pinned simulator version. 1.3.0 changes object order, physics and gold paths."""

with open(TASK_PATH) as _file:
    _TASK_TABLE = json.load(_file)

TASKS: dict[str, str] = {row["task_name"]: row["task_id"] for row in _TASK_TABLE}
"""Task name -> the paper's task id ("boil" -> "1-1"), in the paper's order."""
TASK_IDS: dict[str, str] = {task_id: name for name, task_id in TASKS.items()}

# Number of variations of each task in scienceworld 1.2.3 (`getTaskMaxVariations`); a test checks
# this table and the split formula below against the JVM, so no JVM is needed to validate input.
MAX_VARIATIONS: dict[str, int] = {
    "boil": 30, "melt": 30, "freeze": 30, "change-the-state-of-matter-of": 30,
    "use-thermometer": 540, "measure-melting-point-known-substance": 436,
    "measure-melting-point-unknown-substance": 300, "power-component": 20,
    "power-component-renewable-vs-nonrenewable-energy": 20, "test-conductivity": 900,
    "test-conductivity-of-unknown-substances": 600, "find-living-thing": 300,
    "find-non-living-thing": 300, "find-plant": 300, "find-animal": 300, "grow-plant": 126,
    "grow-fruit": 126, "chemistry-mix": 32, "chemistry-mix-paint-secondary-color": 36,
    "chemistry-mix-paint-tertiary-color": 36, "lifespan-longest-lived": 125,
    "lifespan-shortest-lived": 125, "lifespan-longest-lived-then-shortest-lived": 125,
    "identify-life-stages-1": 14, "identify-life-stages-2": 10,
    "inclined-plane-determine-angle": 168, "inclined-plane-friction-named-surfaces": 1386,
    "inclined-plane-friction-unnamed-surfaces": 162, "mendelian-genetics-known-plant": 120,
    "mendelian-genetics-unknown-plant": 480,
}
BRIDGE_SOURCE = Path(__file__).with_name("java") / "ScienceWorldBridge.java"
"""Java twins of the simulator's admissible-command method and parser: same results, faster."""
BRIDGE_CLASS = "textgym.ScienceWorldBridge"
SIMPLIFICATIONS = ("teleportAction", "openDoors", "openContainers", "selfWateringFlowerPots",
                   "noElectricalAction")
ELECTRICAL_TASKS = ("power-component", "power-component-renewable-vs-nonrenewable-energy",
                    "test-conductivity", "test-conductivity-of-unknown-substances")


def split_ranges(num_variations: int) -> dict[str, range]:
    """ScienceWorld's contiguous train/dev/test blocks: 2n/4, n/4 and the rest."""
    quarter = num_variations // 4
    return {"train": range(0, 2 * quarter), "dev": range(2 * quarter, 3 * quarter),
            "test": range(3 * quarter, num_variations)}


def resolve_task(task: str) -> str:
    """Task name from a name or a paper id ("1-1"); unknown names get close-match suggestions."""
    if task in TASKS:
        return task
    if task in TASK_IDS:
        return TASK_IDS[task]
    raise ValueError(f"Unknown ScienceWorld task {task!r}.{closest(task, list(TASKS))} "
                     f"The {len(TASKS)} tasks are: {', '.join(TASKS)}.")


def resolve_simplification(task: str, simplification: str | Sequence[str] | None) -> str:
    """Normalise `simplification` to the comma string the simulator takes, checking every name."""
    if simplification is None:
        names: list[str] = []
    elif isinstance(simplification, str):
        names = [name.strip() for name in simplification.split(",") if name.strip()]
    else:
        names = list(simplification)
    for name in names:
        if name not in ("easy", *SIMPLIFICATIONS):
            raise ValueError(f"Unknown simplification {name!r}.{closest(name, ['easy', *SIMPLIFICATIONS])} "
                             f"Use 'easy', None, or a comma list of {', '.join(SIMPLIFICATIONS)}.")
    if "noElectricalAction" in names and task in ELECTRICAL_TASKS:
        raise ValueError(f"Task {task!r} needs electrical actions, so 'noElectricalAction' cannot apply "
                         "('easy' leaves them in for electrical tasks).")
    return ",".join(names)


def parse_goal_progress(text: str) -> list[Subgoal]:
    """Parse `getGoalProgressStr()` (a table of sequential, then unordered/optional goals)."""
    goals: list[Subgoal] = []
    sequential = True
    for line in text.splitlines():
        if line.startswith("Sequential Subgoals"):
            sequential = True
        elif line.startswith("Unordered and Optional Subgoals"):
            sequential = False
        fields = line.split("\t")
        if len(fields) == 4 and fields[0].strip().isdigit():
            index, done, goal_type, description = fields
            goals.append(Subgoal(description=description.strip(), goal_type=goal_type.strip(),
                                 sequential=sequential, done=done.strip() == "true", index=int(index)))
    return goals


class ScienceWorldEnv(JavaBacked, TextEnv):
    """One of ScienceWorld's 30 elementary-science tasks, as a Gymnasium environment.

    ## Description
    ScienceWorld (Wang, Jansen, Cote, Ammanabrolu; EMNLP 2022) simulates a house with a kitchen,
    a greenhouse, a workshop and more, with thermodynamics, electricity, chemistry and biology.
    Each task ("boil water", "find a living thing", "test conductivity", ...) has hundreds of
    variations (substances, rooms, starting states) split into train, dev and test blocks; dev
    and test hold unseen substances, plants and animals. Registered as `ScienceWorld/<task>-v0`.

    ## Action Space
    `TextSpace(max_length=512, min_length=1)`: any one-line printable-ASCII command ("open door to
    kitchen", "focus on water"). Commands the parser does not know give the observation "No
    known action matches that input." and no penalty. An ambiguous command ("focus on door")
    puts the parser in a modal state that expects a number ("0", "1", ...).

    ## Observation Space
    `TextSpace(max_length=16384)`: the simulator's answer to the last command (on reset, the
    answer to "look around"). The task text is in `info["task"]`.

    ## Starting State
    `reset(seed=s)` draws a variation uniformly from the env's split with `np_random`;
    `reset(options={"variation": k})` (or `variation=k` at make) picks one. The simulator is
    deterministic here (see the module docstring): same seed and commands, same trajectory.

    ## Rewards
    The change in ScienceWorld's score (0-100; required and optional sub-goals add to it). A
    wrong `focus on` sets the score to -100.

    ## Episode End
    Terminated when the task is won (score 100) or lost (score < 0, e.g. a wrong `focus on`).
    Truncated after `max_episode_steps` agent commands (default 100; ScienceWorld's own `moves`
    counts simulator ticks, not commands, and is reported in `info["moves"]` only).

    ## Information
    `task`, `score`, `max_score` (100), `moves`, `won`, `lost`, `variation`; with
    `admissible_commands=True` also `admissible_commands` (sorted); with `extra_info` any of
    `look`, `inventory`, `subgoals`. The unwrapped env has `admissible_commands()`,
    `gold_path()`, `subgoals()`, `variations(split)`, `look()` and `inventory()`.

    ## Arguments
    ```python
    gym.make("ScienceWorld/boil-v0", split="train", simplification="easy",
             max_episode_steps=100, admissible_commands=False, variation=None,
             extra_info=(), jvm_heap="512m", render_mode=None)
    ```
    - `simplification`: "easy" (the papers' setting: teleport, open doors, self-watering pots,
      no electrical actions on non-electrical tasks), None for none, or a comma list of
      teleportAction, openDoors, openContainers, selfWateringFlowerPots, noElectricalAction.
    - `jvm_heap`: the simulator JVM's maximum heap ("512m", "2g": `-Xmx` syntax, at least 64m;
      checked before the JVM starts); `TEXTGYM_JAVA_OPTS` adds JVM flags.

    ## Version History
    - v0: scienceworld 1.2.3 (`textgym.envs.scienceworld.SCIENCEWORLD_VERSION`).
    """

    family = "ScienceWorld"
    max_score = 100

    def __init__(self, task: str = "boil", *, split: str = "train",
                 simplification: str | Sequence[str] | None = "easy", variation: int | None = None,
                 admissible_commands: bool = False, extra_info: Sequence[str] = (),
                 jvm_heap: str = DEFAULT_HEAP, render_mode: str | None = None) -> None:
        self.task = resolve_task(task)
        self.simplification = resolve_simplification(self.task, simplification)
        self._splits = split_ranges(MAX_VARIATIONS[self.task])
        super().__init__(split=split, variation=variation, admissible_commands=admissible_commands,
                         extra_info=extra_info, render_mode=render_mode)
        self._simulator = JavaSimulator("ScienceWorld", JAR_PATH,
                                        "scienceworld.runtime.pythonapi.PythonInterface",
                                        heap=jvm_heap, cwd=BASEPATH, options=DETERMINISTIC_HASHES,
                                        helpers=(BRIDGE_SOURCE,))

    def _variation_ids(self, split: str) -> range:
        return self._splits[split]

    def _call(self, method: str, *args: Any) -> Any:
        with self._simulator.calls() as server:
            return getattr(server, method)(*args)

    def _load(self, variation: int, gold: bool = False) -> Transition:
        if not self._simulator.alive:
            self._simulator.start()
        message = self._call("load", self.task, variation, self.simplification, gold)
        if message:
            raise RuntimeError(f"ScienceWorld could not load {self.task} variation {variation}: {message}")
        if self._simulator.helpers_loaded:  # the same parser, naming each object once per command
            with self._simulator.calls() as server:
                self._simulator.java_class(BRIDGE_CLASS).installParser(server)
        return self._advance("look around")

    def _begin(self, variation: int) -> Transition:
        return self._load(variation)

    def _advance(self, action: str) -> Transition:
        with self._simulator.calls() as server:
            observation = server.step(action)
            score = round(100 * server.getScore())
            completed = server.getCompleted()
            moves = server.getNumMoves()
        return Transition(observation=observation, score=score, moves=moves,
                          won=score >= self.max_score, lost=score < 0, done=completed)

    def _task_description(self) -> str:
        return self._call("getTaskDescription")

    def _valid_actions(self) -> list[str]:
        # What stock ScienceWorld calls, `getValidActionObjectCombinations` (so the simulator's RNG
        # is drawn alike), or its faster twin `ScienceWorldBridge.validActions`; joined in the JVM.
        with self._simulator.calls() as server:
            if self._simulator.helpers_loaded:
                commands = self._simulator.java_class(BRIDGE_CLASS).validActions(server)
            else:
                commands = self._simulator.joined(server.getValidActionObjectCombinations())
        return commands.split("\n") if commands else []

    def _look(self) -> str:
        return self._call("freeActionLook")

    def _inventory(self) -> str:
        return self._call("freeActionInventory")

    def _subgoals(self) -> list[Subgoal]:
        return parse_goal_progress(self._call("getGoalProgressStr"))

    def _cache_namespace(self) -> str:
        return f"scienceworld-{SCIENCEWORLD_VERSION}/{self.task}/{self.simplification or 'none'}"

    def _compute_gold_path(self, variation: int) -> list[str]:
        self._load(variation, gold=True)
        actions = [str(action) for action in self._call("getGoldActionSequence")]
        if self._variation is not None:  # put the episode in progress back: reload and replay
            self._load(self._variation)
            for action in self._actions:
                self._advance(action)
        return actions
