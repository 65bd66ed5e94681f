"""TextWorldExpress (Jansen & Cote, 2022) as Gymnasium environments, one JVM per env.

TextWorldExpress reimplements CookingWorld, TextWorld Commonsense and Coin Collector, plus five
games of its own, in Scala, at thousands of steps a second. Its stock Python env makes one extra
py4j round trip per step (the task text) and keeps a run history; this module keeps the part
that matters: one `stepJSON` call per step, parsed with orjson. The step's JSON already carries
the admissible commands, the look and the inventory, so those extras cost nothing more.
"""

from __future__ import annotations

import numbers
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson
import textworld_express
from textworld_express.constants import BASEPATH, JAR_PATH

from textgym.envs.base import SPLITS, TextEnv, Transition, closest
from textgym.envs.jvm import DEFAULT_HEAP, JavaBacked, JavaSimulator

TEXTWORLD_EXPRESS_VERSION: str = textworld_express.__version__
"""The pinned simulator version (games, seeds and gold paths are those of this release)."""

SEEDS: dict[str, range] = {"train": range(0, 1000), "dev": range(10000, 11000), "test": range(20000, 21000)}
"""The library's game seeds of each split (`getSeedsTrain/Dev/Test`; a test checks them against the JVM)."""


@dataclass(frozen=True)
class GameParameter:
    """One generation parameter of a game: its `gym.make` keyword maps to the library's name."""

    name: str
    low: int
    high: int
    default: int
    doc: str

    @property
    def is_flag(self) -> bool:
        return (self.low, self.high) == (0, 1)


def _flag(name: str, default: bool, doc: str) -> GameParameter:
    return GameParameter(name, 0, 1, int(default), doc)


_DOORS = "rooms have doors that must be opened"
_INVENTORY = "the inventory holds a limited number of items"

GAMES: dict[str, dict[str, GameParameter]] = {
    "cookingworld": {
        "num_locations": GameParameter("numLocations", 1, 11, 11, "number of locations"),
        "num_ingredients": GameParameter("numIngredients", 1, 5, 3, "ingredients in the recipe"),
        "num_distractor_items": GameParameter("numDistractorItems", 0, 10, 10,
                                              "ingredients that the recipe does not use"),
        "include_doors": _flag("includeDoors", True, _DOORS),
        "limit_inventory_size": _flag("limitInventorySize", True, _INVENTORY),
    },
    "twc": {
        "num_locations": GameParameter("numLocations", 1, 3, 3, "number of locations"),
        "num_items_to_put_away": GameParameter("numItemsToPutAway", 1, 4, 4, "items to put away"),
        "include_doors": _flag("includeDoors", False, _DOORS),
        "limit_inventory_size": _flag("limitInventorySize", False, _INVENTORY),
    },
    "coin": {
        "num_locations": GameParameter("numLocations", 1, 11, 11, "number of locations"),
        "num_distractor_items": GameParameter("numDistractorItems", 0, 10, 0, "items that are not the coin"),
        "include_doors": _flag("includeDoors", True, _DOORS),
        "limit_inventory_size": _flag("limitInventorySize", True, _INVENTORY),
    },
    "mapreader": {
        "num_locations": GameParameter("numLocations", 1, 50, 15, "number of locations"),
        "max_distance_apart": GameParameter("maxDistanceApart", 1, 8, 4,
                                            "most locations between the start and the coin"),
        "max_distractor_items_per_location": GameParameter("maxDistractorItemsPerLocation", 0, 3, 3,
                                                           "most distractor items in a location"),
        "include_doors": _flag("includeDoors", False, _DOORS),
        "limit_inventory_size": _flag("limitInventorySize", False, _INVENTORY),
    },
    "arithmetic": {},
    "sorting": {},
    "simonsays": {
        "game_length": GameParameter("gameLength", 1, 1000, 5, "actions to repeat"),
        "num_distractors": GameParameter("numDistractors", 0, 5, 3, "irrelevant actions on offer"),
        "memorization": _flag("memorization", False, "the whole sequence is shown once, at the start"),
        "verbose": _flag("verbose", False, "praise after each right action (with memorization)"),
    },
    "peckingorder": {},
}
"""The 8 games and their parameters (names, ranges and defaults of the library's generators)."""


def resolve_game(game: str) -> str:
    if game in GAMES:
        return game
    raise ValueError(f"Unknown TextWorldExpress game {game!r}.{closest(str(game), list(GAMES))} "
                     f"The {len(GAMES)} games are: {', '.join(GAMES)}.")


def resolve_parameters(game: str, values: dict[str, Any]) -> dict[str, int]:
    """The library's parameters (every one, defaults filled in) from `gym.make` keywords, checked."""
    table = GAMES[game]
    unknown = [key for key in values if key not in table]
    if unknown:
        known = ", ".join(table) or "none"
        raise TypeError(f"TextWorldExpress {game!r} has no parameter {unknown[0]!r}."
                        f"{closest(unknown[0], list(table))} Its parameters are: {known}.")
    resolved = {}
    for key, parameter in table.items():
        value = values.get(key, parameter.default)
        low, high = parameter.low, parameter.high
        wrong_type = isinstance(value, bool) and not parameter.is_flag
        if wrong_type or not isinstance(value, numbers.Integral) or not low <= value <= high:
            kind = "a flag (True or False)" if parameter.is_flag else f"an integer in [{low}, {high}]"
            raise ValueError(f"{key} ({parameter.doc}) must be {kind} for {game!r}, got {value!r}.")
        resolved[parameter.name] = int(value)
    return resolved


def split_of(seed: int) -> str:
    """The split a game seed belongs to."""
    return next(split for split in SPLITS if seed in SEEDS[split])


class TextWorldExpressEnv(JavaBacked, TextEnv):
    """One of TextWorldExpress's 8 games, as a Gymnasium environment.

    ## Description
    TextWorldExpress (Jansen & Cote, 2022; `textworld-express` on PyPI) generates small text
    games from a seed: CookingWorld (gather and prepare a recipe's ingredients, then eat the
    meal), TextWorld Commonsense `twc` (put household items where they belong), Coin Collector
    `coin` (find the coin), Map Reader `mapreader` (fetch a coin using a map), `arithmetic`
    (solve a problem, fetch that many items), `sorting` (put items in a box by quantity),
    `simonsays` (repeat the commands) and `peckingorder` (follow a book's instructions).
    Registered as `TextWorldExpress/<game>-v0`. Train, dev and test games use disjoint seeds,
    and for cookingworld and twc also disjoint ingredients and items.

    ## Action Space
    `TextSpace(max_length=512, min_length=1)`: any one-line printable-ASCII command. Only the game's
    admissible commands act (`info["admissible_commands"]` when asked); any other command gives
    "Unknown action: I'm not sure what you mean." and no penalty.

    ## Observation Space
    `TextSpace(max_length=16384)`: the game's answer to the last command (on reset, the
    starting room). The task text is in `info["task"]`.

    ## Starting State
    `reset(seed=s)` draws a game seed uniformly from the env's split with `np_random`;
    `reset(options={"variation": k})` (or `variation=k` at make) plays seed `k`. Variations are
    the library's seeds: train 0-999, dev 10000-10999, test 20000-20999.

    ## Rewards
    The change in the game's normalised score (0 to 1; `max_score` is 1). Intermediate steps
    (an ingredient taken, an item put away) earn part of it.

    ## Episode End
    Terminated when the game reports success (`won`, score 1) or failure (`lost`: e.g. a wrong
    sort, eating an inedible item). Truncated after `max_episode_steps` commands (default 100).
    CookingWorld's gold paths wander: about 1 seed in 100 needs more than 100 commands.

    ## Information
    `task`, `score`, `max_score` (1), `moves` (commands sent this episode, as the library counts
    them), `won`, `lost`, `variation`; with `admissible_commands=True` also
    `admissible_commands` (sorted); with `extra_info` any of `look`, `inventory` (free: the
    simulator sends them with every step). No sub-goals: `subgoals()` is empty. The unwrapped
    env has `admissible_commands()`, `gold_path()`, `variations(split)`, `look()`,
    `inventory()` and `parameters` (the library's generation parameters).

    ## Arguments
    ```python
    gym.make("TextWorldExpress/coin-v0", split="train", variation=None,
             admissible_commands=False, extra_info=(), jvm_heap="512m", render_mode=None,
             num_locations=11, num_distractor_items=0, include_doors=True, limit_inventory_size=True)
    ```
    Game parameters (`gym.make` keyword = library name, range, default):

    | game | parameters |
    |---|---|
    | cookingworld | num_locations (1-11, 11), num_ingredients (1-5, 3), num_distractor_items (0-10, 10), include_doors (True), limit_inventory_size (True) |
    | twc | num_locations (1-3, 3), num_items_to_put_away (1-4, 4), include_doors (False), limit_inventory_size (False) |
    | coin | num_locations (1-11, 11), num_distractor_items (0-10, 0), include_doors (True), limit_inventory_size (True) |
    | mapreader | num_locations (1-50, 15), max_distance_apart (1-8, 4), max_distractor_items_per_location (0-3, 3), include_doors (False), limit_inventory_size (False) |
    | simonsays | game_length (1-1000, 5), num_distractors (0-5, 3), memorization (False), verbose (False) |
    | arithmetic, sorting, peckingorder | none |

    The defaults are the library's. `jvm_heap` caps the JVM's heap; `TEXTGYM_JAVA_OPTS` adds
    JVM flags.

    ## Version History
    - v0: textworld-express 1.1.0 (`textgym.envs.textworld_express.TEXTWORLD_EXPRESS_VERSION`).
    """  # noqa: E501

    family = "TextWorldExpress"
    max_score = 1.0

    def __init__(self, game: str = "coin", *, split: str = "train", variation: int | None = None,
                 admissible_commands: bool = False, extra_info: Sequence[str] = (),
                 jvm_heap: str = DEFAULT_HEAP, render_mode: str | None = None, **parameters: Any) -> None:
        self.game = resolve_game(game)
        self.parameters = resolve_parameters(self.game, parameters)
        self._parameter_string = ",".join(f"{name}={value}" for name, value in self.parameters.items())
        super().__init__(split=split, variation=variation, admissible_commands=admissible_commands,
                         extra_info=extra_info, render_mode=render_mode)
        self._simulator = JavaSimulator("TextWorldExpress", JAR_PATH,
                                        "textworldexpress.runtime.PythonInterface",
                                        heap=jvm_heap, cwd=BASEPATH)
        self._last: dict[str, Any] = {}  # the simulator's last step result

    def _variation_ids(self, split: str) -> range:
        return SEEDS[split]

    def _calls(self) -> Any:
        """`JavaSimulator.calls()`, starting the JVM and loading the game first if needed."""
        if not self._simulator.alive:
            self._simulator.start()
            with self._simulator.calls() as server:
                message = server.load(self.game, self._parameter_string)
            if message:
                raise ValueError(f"TextWorldExpress rejected {self.game} {self._parameter_string}: {message}")
        return self._simulator.calls()

    def _generate(self, variation: int, gold: bool) -> Transition:
        with self._calls() as server:
            self._last = orjson.loads(server.generateNewGameJSON(variation, split_of(variation), gold))
        if self._last["observation"].startswith("ERROR"):
            raise RuntimeError(f"TextWorldExpress could not generate {self.game} seed {variation}: "
                               f"{self._last['observation']}")
        return Transition(observation=self._last["observation"], score=self._last["score"], moves=0,
                          won=self._last["tasksuccess"], lost=self._last["taskfailure"])

    def _begin(self, variation: int) -> Transition:
        return self._generate(variation, gold=False)

    def _advance(self, action: str) -> Transition:
        with self._simulator.calls() as server:
            self._last = orjson.loads(server.stepJSON(action))
        return Transition(observation=self._last["observation"], score=self._last["score"],
                          moves=len(self._actions) + 1, won=self._last["tasksuccess"],
                          lost=self._last["taskfailure"])

    def _task_description(self) -> str:
        with self._simulator.calls() as server:
            return server.getTaskDescription()

    def _valid_actions(self) -> list[str]:
        return self._last["validActions"]

    def _look(self) -> str:
        return self._last["look"]

    def _inventory(self) -> str:
        return self._last["inventory"]

    def _cache_namespace(self) -> str:
        return (f"textworld-express-{TEXTWORLD_EXPRESS_VERSION}/{self.game}/"
                f"{self._parameter_string or 'no-parameters'}")

    def _compute_gold_path(self, variation: int) -> list[str]:
        self._generate(variation, gold=True)
        with self._simulator.calls() as server:
            actions = [str(action) for action in server.getGoldActionSequence()]
            if not actions:  # the simulator refuses every later step until the game is loaded again
                server.load(self.game, self._parameter_string)
        if self._variation is not None:  # put the episode in progress back: regenerate and replay
            self._begin(self._variation)
            for action in self._actions:
                self._advance(action)
        if not actions:
            raise RuntimeError(f"TextWorldExpress found no gold path for {self.game} seed {variation} "
                               f"({self._parameter_string}).")
        return actions
