"""TextWorld (Cote et al., 2018) games as Gymnasium environments.

The games come from TextWorld's own generators (`textgym.envs.textworld_games`: made once per
seed, cached on disk) and run in-process on TextWorld's Z-machine stack (`textworld.start`, the
same stack `textworld.gym` drives, without its batch layer). TextWorld computes admissible
commands, room descriptions, inventories and quest progress only when told to at start, so this
env asks for them only when the make keywords need them; a later call that needs more restarts
the game with the extra tracking and replays the episode's commands, which takes milliseconds.

`textworld` is an optional dependency (`pip install textgym[textworld]`): it is imported when the
first env is made, never by `import textgym`.
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import orjson

from textgym.envs.base import Subgoal, TextEnv, Transition
from textgym.envs.textworld_games import (
    MAX_GAMES,
    GameGenerator,
    ensure_games,
    require_textworld,
    resolve_challenge,
    resolve_settings,
    settings_key,
    split_seeds,
)

_TRACKING = {"admissible_commands": "admissible_commands", "look": "description",
             "inventory": "inventory", "subgoals": "policy_commands"}
"""textgym extra -> the `textworld.EnvInfos` flag that makes TextWorld compute it."""


def to_command(action: str) -> str:
    """One line for the Z-machine: whitespace runs become one space and backslashes are dropped.

    The interpreter reads only up to a newline, and its dumb terminal reads a backslash as the
    start of a terminal command (`\\help`...) and then waits forever for a valid one, so neither
    may reach it.

    >>> to_command("open  door\\tto the\\nnorth\\\\q")
    'open door to the north q'
    """
    return " ".join(action.replace("\\", " ").split())


def describe_fact(fact: Any, game: Any) -> str:
    """A proposition of `game` in words: in(o_0, I) -> 'coin is in the inventory'."""
    special = {"I": "the inventory", "P": "the player"}
    names = [special.get(arg.name) or getattr(game.infos.get(arg.name), "name", None) or arg.name
             for arg in fact.arguments]
    if len(names) == 1:
        return f"{names[0]} is {fact.name}"
    return f"{names[0]} is {fact.name} {' '.join(names[1:])}"


class TextWorldEnv(TextEnv):
    """A TextWorld challenge (coin collector, treasure hunter, cooking, simple) as a Gymnasium env.

    ## Description
    TextWorld (Cote et al., 2018) generates parser-based text games; its challenges are
    families of games with a difficulty knob: `coin_collector` (walk a chain of rooms, with
    dead ends at higher levels, and take the coin; Yuan et al. 2018), `treasure_hunter` (find a
    given object, behind closed or locked doors and containers at higher levels), `cooking`
    (the First TextWorld Problems games: read the cookbook, gather, cut and cook the
    ingredients, prepare and eat the meal) and `simple` (a fixed house: find the food and put
    it on the stove). Registered as `TextWorld/<challenge>-v0`. Each variation is one game,
    generated on first use by TextWorld's generator and cached on disk (see
    `textgym.envs.textworld_games`; `$TEXTGYM_TEXTWORLD_GAMES` moves the cache). The first reset
    on a new game waits for its generation (a few seconds); `prepare_games()` makes a whole
    split in one go.

    ## Action Space
    `TextSpace(max_length=512, min_length=1)`: any one-line printable-ASCII command, sent to the game's
    parser as one line (newlines and tabs become spaces, backslashes are dropped). Commands the
    parser does not understand get its answer ("That's not a verb I recognise.") and no penalty.

    ## Observation Space
    `TextSpace(max_length=16384)`: the game's text, exactly as `textworld.gym` returns it (on
    reset the banner, the objective and the first room). The objective is also `info["task"]`.

    ## Starting State
    `reset(seed=s)` draws a game uniformly from the env's split with `np_random`;
    `reset(options={"variation": k})` (or `variation=k` at make) plays game `k`. Variations are
    game seeds: train 0 to num_games-1, dev 10000 on, test 20000 on, so splits share no game.

    ## Rewards
    The change in the game's score (TextWorld returns the running score). Coin collector and
    treasure hunter give 1 point for the win; cooking and simple give a point per quest
    (ingredient taken, cut, cooked, meal eaten...).

    ## Episode End
    Terminated when the game is won (`info["won"]`, the score is then `max_score`) or lost
    (e.g. a burnt or wrongly cut ingredient). Truncated after `max_episode_steps` commands
    (default 100).

    ## Information
    `task` (the objective), `score`, `max_score` (of the current game), `moves` (the game's turn
    counter), `won`, `lost`, `variation`; with `admissible_commands=True` also
    `admissible_commands` (sorted); with `extra_info` any of `look`, `inventory`, `subgoals`
    (one record per quest with a win condition, e.g. "pork chop is sliced"; TextWorld tracks
    quests as an unordered set, so `sequential` is False). The unwrapped env has
    `admissible_commands()`, `gold_path()` (the generator's walkthrough), `subgoals()`,
    `policy_commands()` (TextWorld's current winning policy), `look()`, `inventory()`,
    `variations(split)`, `game_file(variation)` and `prepare_games(split)`.

    ## Arguments
    ```python
    gym.make("TextWorld/cooking-v0", split="train", num_games=100, variation=None,
             admissible_commands=False, extra_info=(), render_mode=None,
             recipe=2, take=1, go=6, open=True, cook=True, cut=True, drop=False, recipe_seed=0)
    ```
    - `num_games`: games per split (1-10000); growing it keeps the first games.
    - Challenge settings, TextWorld's own (`tw-make <challenge> --help`), with these defaults:

    | challenge | settings (default) |
    |---|---|
    | coin_collector | level (5): 1-100 a chain of `level` rooms; 101-200 twice as many rooms with dead ends; 201-300 three times, at random; 100 rooms at most |
    | treasure_hunter | level (5): 1-10 five empty rooms; 11-20 ten rooms, closed doors and containers; 21-30 twenty rooms, locked ones |
    | cooking | recipe (2), take (1), go (6: 1, 6, 9 or 12 rooms), open (True), cook (True), cut (True), drop (False), recipe_seed (0) |
    | simple | rewards ("balanced": dense, balanced or sparse), goal ("detailed": detailed, brief or none) |

    Cooking dev and test games use TextWorld's held-out food items; simple test games its test
    distribution.

    ## Version History
    - v0: textworld 1.7.0.
    """  # noqa: E501

    family = "TextWorld"

    def __init__(self, challenge: str = "coin_collector", *, split: str = "train", num_games: int = 100,
                 variation: int | None = None, admissible_commands: bool = False,
                 extra_info: Sequence[str] = (), render_mode: str | None = None, **settings: Any) -> None:
        self.challenge = resolve_challenge(challenge)
        self.settings = resolve_settings(self.challenge, settings)
        if isinstance(num_games, bool) or not isinstance(num_games, int) or not 1 <= num_games <= MAX_GAMES:
            raise ValueError(f"num_games (games per split) must be an integer in [1, {MAX_GAMES}], "
                             f"got {num_games!r}.")
        self.num_games = num_games
        self._splits = split_seeds(num_games)
        self._textworld = require_textworld()
        super().__init__(split=split, variation=variation, admissible_commands=admissible_commands,
                         extra_info=extra_info, render_mode=render_mode)
        wanted = [*self.extra_info, *(["admissible_commands"] if admissible_commands else [])]
        self._tracking = {_TRACKING[key] for key in wanted if key in _TRACKING}
        self._game: Any = None  # the textworld environment, made on the first reset
        self._state: Any = None  # TextWorld's last GameState
        self._files: dict[int, Path] = {}  # games this env has checked
        self._generator = GameGenerator()  # its child process starts with the first missing game

    @property
    def max_score(self) -> float:
        """The current game's maximum score (0 before the first reset)."""
        return self._state["max_score"] if self._state is not None else 0

    def close(self) -> None:
        self._close_game()
        self._generator.close()

    def _close_game(self) -> None:
        if self._game is not None:
            self._game.close()
        self._game = None

    # ------------------------------------------------------------------ games on disk
    def game_file(self, variation: int) -> Path:
        """The `.z8` file of game `variation` (generated on first use; a `.json` sits beside it)."""
        if variation not in self._files:
            self._check_variation(variation, any_split=True)
            self._files.update(ensure_games(self.challenge, self.settings, [variation], self._generator))
        return self._files[variation]

    def prepare_games(self, split: str | None = None) -> list[Path]:
        """Generate every game of `split` (default: the env's) now, in one generator process.

        Worth calling before training on many games, so that no reset waits for a generation.
        """
        seeds = self.variations(split)
        self._files.update(ensure_games(self.challenge, self.settings, seeds, self._generator))
        return [self._files[seed] for seed in seeds]

    # ------------------------------------------------------------------ the family's part
    def _variation_ids(self, split: str) -> range:
        return self._splits[split]

    def _begin(self, variation: int) -> Transition:
        path = str(self.game_file(variation))
        with warnings.catch_warnings():  # Jericho scores only the classic games; TextWorld scores its own
            warnings.filterwarnings("ignore", message=r"Game .* is not fully supported")
            if self._game is None:
                infos = self._textworld.EnvInfos(**dict.fromkeys(self._tracking, True))
                self._game = self._textworld.start(path, infos)
            else:
                self._game.load(path)
        self._state = self._game.reset()
        return self._transition()

    def _advance(self, action: str) -> Transition:
        self._state, _, _ = self._game.step(to_command(action))
        return self._transition()

    def _transition(self) -> Transition:
        state = self._state
        return Transition(observation=state["feedback"], score=state["score"], moves=state["moves"],
                          won=state["won"], lost=state["lost"])

    def _task_description(self) -> str:
        return self._state["objective"]

    def _track(self, flag: str) -> Any:
        """TextWorld's GameState, with `flag` tracked (restarting and replaying the game if needed)."""
        if flag not in self._tracking:
            self._tracking.add(flag)
            self._close_game()
            self._begin(self._variation)
            for action in self._actions:
                self._advance(action)
        return self._state

    def _valid_actions(self) -> list[str]:
        return self._track("admissible_commands")["admissible_commands"]

    def _look(self) -> str:
        return self._track("description")["description"]

    def _inventory(self) -> str:
        return self._track("inventory")["inventory"]

    def _subgoals(self) -> list[Subgoal]:
        state = self._track("policy_commands")
        game, goals = state["game"], []
        for quest in state["_game_progression"].quest_progressions:
            if not quest.completable:  # only ways to lose ("the meal is burned"), nothing to achieve
                continue
            ways = [" and ".join(describe_fact(fact, game) for fact in event.event.condition.preconditions)
                    for event in quest.win_events]
            goals.append(Subgoal(description=" or ".join(ways), goal_type="Quest", sequential=False,
                                 done=quest.completed, index=len(goals)))
        return goals

    def policy_commands(self) -> list[str]:
        """TextWorld's shortest known command sequence to win from the current state."""
        self._require_episode()
        return list(self._track("policy_commands")["policy_commands"])

    def _cache_namespace(self) -> str:
        return f"textworld-{self._textworld.__version__}/{self.challenge}/{settings_key(self.settings)}"

    def _compute_gold_path(self, variation: int) -> list[str]:
        game = orjson.loads(self.game_file(variation).with_suffix(".json").read_bytes())
        walkthrough = game["metadata"].get("walkthrough")
        if not walkthrough:
            raise RuntimeError(f"TextWorld's {self.challenge} game {variation} has no walkthrough.")
        return list(walkthrough)

