"""Jericho (Hausknecht et al., 2020): classic interactive fiction on the Z-machine, in-process.

Jericho drives a Frotz interpreter built as a shared library (`jericho.FrotzEnv`) and knows 57
classic games (Zork I, Detective, Enchanter, ...) by the MD5 of their story files: for those it
reads the score, moves and game end from the interpreter's memory, and ships bindings (the
parser's grammar, a walkthrough and the RNG seed that the walkthrough needs). It also supports
games made by TextWorld, which it recognises by a file name starting with `tw-`. The story files
are not redistributable, so users bring their own (`find_story_file`).

What this module adds to the stock `FrotzEnv`, and why:
- The game's RNG seed is always explicit. `FrotzEnv(seed=0)` silently becomes the walkthrough's
  seed or -1, and -1 seeds the interpreter from the clock, so a run would not replay.
- TextWorld games are recognised by their dictionary (TextWorld's `tw-print` debug verb), not
  only by their file name: one saved as `game.z8` is played through a `tw-` named copy.
- Commands that would leave the episode (save, restore, restart, quit, transcripts) never reach
  the interpreter, and neither do backslashes (the dumb terminal's escape character: `\\help`
  loops forever) nor control characters; the first ones are answered in the observation, the
  others are a `ValueError`.
- Valid-action detection without spaCy. `FrotzEnv.get_valid_actions` tags nouns with spaCy's
  `en_core_web_sm`, which it downloads at run time (that fails offline) and which makes the
  candidate objects depend on the model version. textgym takes the candidate objects from the
  game's own dictionary instead, then uses Jericho's own template generator, its in-interpreter
  world-diff filter and its verb-frequency tie-break (see `JerichoEnv._valid_actions`).
- A story file Jericho cannot run would end the whole Python process (Frotz's fatal errors call
  `exit`), so an unknown file is first loaded once in a child process.
"""

from __future__ import annotations

import hashlib
import importlib
import os
import re
import subprocess
import sys
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import orjson

from textgym.cache import cache_dir, write_bytes_atomic
from textgym.envs.base import TextEnv, Transition, closest
from textgym.envs.jvm import SimulatorCrashedError
from textgym.spaces import PRINTABLE, TextSpace
from textgym.validation import check_integer

GAMES_VARIABLE = "TEXTGYM_JERICHO_GAMES"
"""Environment variable: the folder holding the user's Jericho story files."""
CUSTOM = "custom"
"""The game name of `Jericho/custom-v0`, which plays any story file given as `game_file=`."""

GAMES: tuple[str, ...] = (
    "905", "acorncourt", "adventureland", "advent", "afflicted", "anchor", "awaken", "balances",
    "ballyhoo", "curses", "cutthroat", "deephome", "detective", "dragon", "enchanter", "enter", "gold",
    "hhgg", "hollywood", "huntdark", "infidel", "inhumane", "jewel", "karn", "library", "loose",
    "lostpig", "ludicorp", "lurking", "moonlit", "murdac", "night", "omniquest", "partyfoul", "pentari",
    "planetfall", "plundered", "reverb", "seastalker", "sherbet", "sherlock", "snacktime", "sorcerer",
    "spellbrkr", "spirit", "temple", "theatre", "trinity", "tryst205", "weapon", "wishbringer",
    "yomomma", "zenon", "zork1", "zork2", "zork3", "ztuu")
"""The games jericho 3.3.1 has bindings for, by their bindings' names (a test checks them against
`jericho.defines.BINDINGS_DICT`). Listed here so that `import textgym` need not import jericho."""

HOW_TO_GET_GAMES = (
    "The games are not redistributable, so textgym cannot ship them. Jericho's authors point to the "
    "BYU-PCCL 'z-machine-games' repository (its 'jericho-game-suite' folder holds every supported "
    f"story file under the names Jericho expects). Put the files in one folder and set {GAMES_VARIABLE} "
    "to it, or pass game_dir= (a folder) or game_file= (one story file) to gym.make.")

FORBIDDEN_COMMANDS = {
    "save": "write a saved game to disk", "restore": "load a saved game from disk",
    "restart": "restart the game mid-episode", "quit": "end the interpreter", "q": "end the interpreter",
    "script": "write a transcript to disk", "transcript": "write a transcript to disk",
    "recording": "record commands to disk", "replay": "replay commands from disk",
}
"""Interpreter commands that would leave the episode (a subset of Jericho's `ILLEGAL_ACTIONS`,
which also lists harmless ones such as `score` and `help`): they are answered, never sent."""

TEXTWORLD_BINDINGS = {
    "name": "textworld", "max_word_length": 9,
    "grammar": ("look;inventory;examine OBJ;take OBJ;drop OBJ;eat OBJ;drink OBJ;open OBJ;close OBJ;"
                "take OBJ from OBJ;put OBJ on OBJ;insert OBJ into OBJ;lock OBJ with OBJ;unlock OBJ with OBJ;"
                "cook OBJ with OBJ;slice OBJ with OBJ;dice OBJ with OBJ;chop OBJ with OBJ;prepare meal;"
                "go north;go south;go east;go west"),
}
"""Bindings in Jericho's format for TextWorld-made games, which Jericho has none for: the command
templates of TextWorld's knowledge base (`KnowledgeBase.default().inform7_commands`) plus the
cooking verbs, so that valid-action detection works on them too."""

_PRONOUNS = frozenset(("a", "an", "the", "it", "its", "them", "they", "him", "her", "his", "hers", "me", "my",
                       "myself", "you", "your", "yourself", "self", "this", "that", "these", "those", "all",
                       "every", "each", "some", "both", "one", "other", "another"))
_COMPASS = frozenset(("north", "south", "east", "west", "northeast", "northwest", "southeast", "southwest",
                      "up", "down", "in", "out", "n", "s", "e", "w", "ne", "nw", "se", "sw", "u", "d"))
_CLARIFICATION = re.compile(r"^\([^)]*\)\s*")  # "(the carrot) ...": the parser guessed the object
COMMAND_CHARACTERS = "".join(c for c in PRINTABLE if c.isprintable() and c != "\\")
"""What a Jericho command may hold: printable ASCII without newlines, tabs or backslashes."""
_SENTENCE_BREAK = re.compile(r"[.,;!?]|\bthen\b", re.IGNORECASE)
_PROBE = """
import sys, warnings
warnings.simplefilter("ignore")
import jericho
env = jericho.FrotzEnv(sys.argv[1], seed=1)
env.reset()
env.step("look")
"""


class JerichoGameNotFoundError(FileNotFoundError):
    """The story file of a Jericho game is not where textgym looked (the message says where, and how
    to get it)."""


def require_jericho() -> ModuleType:
    """The `jericho` package, or a clear error when it is missing (it is an optional extra)."""
    try:
        import jericho
    except ImportError as error:
        raise ImportError(f"Jericho/* environments need the jericho package: pip install textgym[jericho] "
                          f"(it builds its Frotz library with gcc and make) ({error})") from error
    return jericho


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


def _bindings_by_name(jericho: ModuleType) -> dict[str, tuple[str, dict[str, Any]]]:
    """Game name -> (md5 of its story file, Jericho's bindings)."""
    return {bindings["name"]: (md5, bindings) for md5, bindings in jericho.defines.BINDINGS_DICT.items()}


def find_story_file(game: str, game_dir: str | os.PathLike | None = None,
                    game_file: str | os.PathLike | None = None) -> Path:
    """The story file of Jericho game `game`: `game_file`, else the file of `game_dir` (default:
    `$TEXTGYM_JERICHO_GAMES`) named as Jericho names it, else any story file there (or in its
    sub-folders) with the MD5 Jericho knows. Raises `JerichoGameNotFoundError` saying where it looked."""
    md5, bindings = _bindings_by_name(require_jericho())[game]
    if game_file is not None:
        path = Path(game_file).expanduser()
        if not path.is_file():
            raise JerichoGameNotFoundError(f"game_file {str(path)!r} for Jericho/{game}-v0 does not exist. "
                                           f"{HOW_TO_GET_GAMES}")
        if _md5(path) != md5:
            raise ValueError(f"{path} is not the release of {game} that Jericho supports (MD5 {_md5(path)}, "
                             f"Jericho's is {md5}), so Jericho's score, walkthrough and grammar do not "
                             f"apply. Play it with gym.make('Jericho/custom-v0', game_file=...).")
        return path
    named_by = os.environ.get(GAMES_VARIABLE)
    where = f"game_dir={str(game_dir)!r}" if game_dir is not None else f"${GAMES_VARIABLE}={named_by!r}"
    if game_dir is None and not named_by:
        raise JerichoGameNotFoundError(
            f"Jericho/{game}-v0 needs the story file {bindings['rom']} (MD5 {md5}), and no folder was named: "
            f"{GAMES_VARIABLE} is not set and no game_dir= or game_file= was given. {HOW_TO_GET_GAMES}")
    folder = Path(game_dir if game_dir is not None else os.environ[GAMES_VARIABLE]).expanduser()
    if folder.is_dir():
        named = folder / bindings["rom"]
        if named.is_file() and _md5(named) == md5:
            return named
        for path in sorted(folder.rglob("*.z[1-8]")):
            if path.is_file() and _md5(path) == md5:
                return path
    state = "is not a folder" if not folder.is_dir() else "holds no file with that MD5"
    raise JerichoGameNotFoundError(f"Jericho/{game}-v0 needs the story file {bindings['rom']} (MD5 {md5}); "
                                   f"textgym looked in {folder} (from {where}), which {state}. "
                                   f"{HOW_TO_GET_GAMES}")


def check_story_file(path: Path) -> None:
    """Refuse, with a clear error, a file Frotz cannot run: its fatal errors end the Python process,
    so the file is first loaded once in a child process (the verdict is cached by MD5)."""
    data = path.read_bytes()
    if len(data) < 64 or not 1 <= data[0] <= 8:
        raise ValueError(f"{path} is not a Z-machine story file (a .z1-.z8 file starts with its version, "
                         f"1-8, in a 64-byte header).")
    verdict = cache_dir() / "jericho" / "checked" / hashlib.md5(data).hexdigest()
    if verdict.exists():
        return
    try:
        probe = subprocess.run([sys.executable, "-c", _PROBE, str(path)], capture_output=True, text=True,
                               timeout=120, stdin=subprocess.DEVNULL)
    except subprocess.TimeoutExpired:
        raise ValueError(f"Jericho hung loading {path} (over 120 s in a test process).") from None
    if probe.returncode != 0:
        lines = [line for line in (probe.stderr + probe.stdout).splitlines() if line.strip()]
        why = " | ".join(lines[-2:]) or f"exit code {probe.returncode}"
        raise ValueError(f"Jericho cannot run {path}: {why}")
    write_bytes_atomic(verdict, b"ok")


@dataclass(frozen=True)
class JerichoState:
    """A snapshot of a Jericho episode (`JerichoEnv.get_state`): the interpreter's memory, stack
    and RNG, and textgym's record of the episode."""

    game: str  # MD5 of the story file
    frotz: tuple
    actions: tuple[str, ...]
    transition: Transition


class JerichoEnv(TextEnv):
    """A Jericho game (Zork I, Detective, ... or any Z-machine story file) as a Gymnasium env.

    ## Description
    Classic parser-based interactive fiction, the benchmark of DRRN, KG-A2C and CALM (Hausknecht
    et al., "Interactive Fiction Games: A Colossal Adventure", AAAI 2020), played by Jericho's
    Frotz interpreter in-process. Registered as `Jericho/<game>-v0` for the 57 games Jericho has
    bindings for, and `Jericho/custom-v0` for any story file. You bring the story files (see
    `find_story_file`: `game_file=`, `game_dir=` or `$TEXTGYM_JERICHO_GAMES`). Jericho also
    supports games made by TextWorld (recognised from their dictionary).

    ## Action Space
    `TextSpace(max_length=198, min_length=1, charset=COMMAND_CHARACTERS)`: one line of printable
    ASCII without backslashes (Frotz's terminal escape), at most the 198 bytes of Frotz's input
    buffer (Jericho would cut longer ones). Anything else is a `ValueError`. Save, restore,
    restart, quit and transcript commands are not sent: the observation says so, nothing changes.

    ## Observation Space
    `TextSpace(max_length=16384)`: the game's text exactly as `FrotzEnv.step` returns it (on
    reset the banner and the first room), non-ASCII characters folded to ASCII.

    ## Starting State
    The game's opening, with the interpreter's RNG seeded by `game_seed`. A Jericho game is one
    game: every split holds the single variation 0, and `reset(seed=...)` does not change the
    game (pass another `game_seed` for other random events).

    ## Rewards
    The change in the game's score. Games that Jericho supports report their own score (some
    take points away, e.g. for dying); story files Jericho does not know always score 0.

    ## Episode End
    Terminated when the game is won or lost (Jericho's per-game detection; for unknown story
    files, Inform's standard "You have won"/"You have died" lines). Truncated after
    `max_episode_steps` commands (default 100, the papers' episode length).

    ## Information
    `task`, `score`, `max_score` (Jericho's maximum for the game; 0 for unknown files), `moves`
    (the game's turn counter), `won`, `lost`, `variation` (0); `admissible_commands` with
    `admissible_commands=True`; `look`, `inventory` with `extra_info`. The unwrapped env has
    `admissible_commands()`, `gold_path()` (Jericho's walkthrough, or a TextWorld game's own),
    `look()`, `inventory()`, `get_state()`/`set_state()` (save and restore the episode) and
    `story_file`, `supported` (whether Jericho reads score and game end), `bindings`.

    ## Arguments
    ```python
    gym.make("Jericho/zork1-v0", game_dir=None, game_file=None, game_seed=None,
             admissible_commands=False, extra_info=(), render_mode=None)
    gym.make("Jericho/custom-v0", game_file="path/to/story.z8")
    ```
    - `game_dir`: a folder with the story files (default `$TEXTGYM_JERICHO_GAMES`); `game_file`: one.
    - `game_seed`: the interpreter's RNG seed (default: the seed of Jericho's walkthrough, else 0).

    ## Version History
    - v0: jericho 3.3.1.
    """

    family = "Jericho"
    max_action_length = 198  # Frotz's input buffer (jericho.INPUT_BUFFER_SIZE)

    def __init__(self, game: str = CUSTOM, *, game_dir: str | os.PathLike | None = None,
                 game_file: str | os.PathLike | None = None, game_seed: int | None = None,
                 split: str = "train", variation: int | None = None, admissible_commands: bool = False,
                 extra_info: Sequence[str] = (), render_mode: str | None = None) -> None:
        self._jericho = require_jericho()
        # Not `jericho.util`: once anything has imported `ctypes.util`, jericho's `from ctypes import *`
        # makes that attribute ctypes' module; the submodule itself is only found by its full name.
        self._util = importlib.import_module("jericho.util")
        if game != CUSTOM and game not in GAMES:
            raise ValueError(f"Unknown Jericho game {game!r}.{closest(str(game), GAMES)} The games are: "
                             f"{', '.join(GAMES)}; Jericho/custom-v0 plays any story file (game_file=).")
        if game == CUSTOM:
            if game_file is None:
                raise ValueError("Jericho/custom-v0 plays a story file you name: "
                                 "gym.make('Jericho/custom-v0', game_file='path/to/story.z5').")
            path = Path(game_file).expanduser()
            if not path.is_file():
                raise JerichoGameNotFoundError(f"game_file {str(path)!r} does not exist.")
        else:
            path = find_story_file(game, game_dir, game_file)
        self.game = game
        self.story_file = path.resolve()
        self._md5 = _md5(self.story_file)
        known = self._jericho.defines.BINDINGS_DICT.get(self._md5)
        self._known = known is not None
        self._textworld_json = self.story_file.with_suffix(".json")
        if known is None:
            check_story_file(self.story_file)
        self._play_file = self.story_file  # what Jericho loads (a tw- named copy for TextWorld games)
        self._is_textworld = known is None and self._has_textworld_dictionary()
        if self._is_textworld and not self.story_file.name.startswith("tw-"):
            name = f"tw-{self._md5}{self.story_file.suffix}"
            self._play_file = cache_dir() / "jericho" / "textworld" / name
            if not self._play_file.exists():
                write_bytes_atomic(self._play_file, self.story_file.read_bytes())
        self.bindings: dict[str, Any] = known or (TEXTWORLD_BINDINGS if self._is_textworld else {})
        default_seed = known.get("seed", 0) if known else 0
        self.game_seed = check_integer("game_seed", default_seed if game_seed is None else game_seed,
                                       0, 2**15 - 1)
        super().__init__(split=split, variation=variation, admissible_commands=admissible_commands,
                         extra_info=extra_info, render_mode=render_mode)
        self.action_space = TextSpace(self.max_action_length, min_length=1, charset=COMMAND_CHARACTERS)
        self._frotz: Any = None
        self._word_length = 9
        self._dictionary: dict[str, Any] = {}
        self._max_score = self._start().get_max_score()  # known before reset, as trainers scale rewards by it

    @property
    def supported(self) -> bool:
        """Whether Jericho reads this game's score, moves and end (its own games and TextWorld's)."""
        return self._known or self._is_textworld

    @property
    def max_score(self) -> float:
        return self._max_score

    def close(self) -> None:
        self._frotz = None  # FrotzEnv.__del__ shuts the interpreter down and unloads its library copy

    # ------------------------------------------------------------------ the interpreter
    def _has_textworld_dictionary(self) -> bool:
        frotz = self._load(self.story_file)
        return any(word.word == "tw-print" for word in frotz.get_dictionary())

    def _load(self, path: Path) -> Any:
        with warnings.catch_warnings():  # textgym says what an unknown game lacks (`supported`)
            warnings.simplefilter("ignore", self._jericho.UnsupportedGameWarning)
            return self._jericho.FrotzEnv(str(path), seed=1)  # the episode's seed is set before each reset

    def _start(self) -> Any:
        if self._frotz is None:
            frotz = self._load(self._play_file)
            frotz._seed = self.game_seed  # FrotzEnv.seed() turns 0 into -1, a clock seed
            if self._is_textworld:
                frotz.act_gen = self._jericho.template_action_generator.TemplateActionGenerator(self.bindings)
            self._dictionary = {word.word: word for word in frotz.get_dictionary()}
            self._word_length = max(map(len, self._dictionary), default=9)
            self._frotz = frotz
        return self._frotz

    def _transition(self, observation: str, score: int, moves: int, done: bool) -> Transition:
        """What `FrotzEnv.reset`/`step` reported; won and lost are asked for only when it says done."""
        frotz = self._frotz
        if frotz._emulator_halted():
            self._over = True
            raise SimulatorCrashedError(f"Jericho's interpreter halted playing {self.story_file.name}: "
                                        f"{observation.strip()[:200]!r}. Call reset() to start again.")
        return Transition(observation=observation, score=score, moves=moves,
                          won=done and frotz.victory(), lost=done and frotz.game_over())

    # ------------------------------------------------------------------ the family's part
    def _variation_ids(self, split: str) -> range:
        return range(1)

    def _begin(self, variation: int) -> Transition:
        frotz = self._start()
        observation, info = frotz.reset()
        return self._transition(observation, info["score"], info["moves"], True)

    def _check_action(self, action: Any) -> str:
        action = super()._check_action(action)
        bad = sorted(set(action) - set(COMMAND_CHARACTERS))
        if bad:
            raise ValueError(f"Action {action!r:.80} has {bad!r}: a Jericho command is one line, and Frotz "
                             "reads a backslash as the start of a terminal command (\\help never returns).")
        return action

    def _advance(self, action: str) -> Transition:
        refused = self._forbidden(action)
        if refused:
            word, why = refused  # textgym's record, not Frotz's: a probe may have moved TextWorld's counters
            return Transition(observation=f"[textgym] The command {word!r} is not sent to the game: it would "
                                          f"{why}. Use env.unwrapped.get_state() and set_state() to save "
                                          "and restore.\n", score=self._score, moves=self._moves,
                              won=False, lost=False)
        observation, _, done, info = self._frotz.step(action)
        return self._transition(observation, info["score"], info["moves"], done)

    def _forbidden(self, action: str) -> tuple[str, str] | None:
        """(word, why) when a sentence of `action` starts with an interpreter command."""
        n = self._word_length
        for sentence in _SENTENCE_BREAK.split(action.lower()):
            words = sentence.split()
            if words:
                for command, why in FORBIDDEN_COMMANDS.items():
                    if words[0] == command or (len(command) > 1 and words[0][:n] == command[:n]):
                        return words[0], why
        return None

    def _task_description(self) -> str:
        if self._is_textworld and self._textworld_json.is_file():
            objective = orjson.loads(self._textworld_json.read_bytes()).get("objective")
            if objective:
                return objective
        name = self.bindings["name"] if self._known else self.story_file.stem
        points = f", scoring as many of its {self._max_score:g} points as you can" if self._max_score else ""
        return f"Play the interactive fiction {name} to a win{points}."

    def _probe(self, command: str) -> str:
        """The game's answer to `command`, with the game left as it was."""
        frotz = self._frotz
        state = frotz.get_state()
        try:
            return frotz.step(command)[0]
        finally:
            frotz.set_state(state)

    def _look(self) -> str:
        return self._probe("look")

    def _inventory(self) -> str:
        return self._probe("inventory")

    def _valid_actions(self) -> list[str]:
        """Jericho's valid-action detection, with the candidate objects taken from the game itself.

        As in `FrotzEnv.get_valid_actions`: object words found in the observation, the room
        description and the inventory are kept when the parser recognises `examine <word>`, and
        words that answer alike name one object; Jericho's `TemplateActionGenerator` fills the
        game's grammar with them; Jericho's filter runs every candidate inside the interpreter and
        keeps those that change the world (or the score, or end the game), one per distinct
        change, named with its most common verb. Unlike Jericho, words count as objects when the
        game's dictionary marks them as nouns (spaCy tags them in Jericho), so nothing is downloaded
        and the list does not depend on a tagger's version.
        """
        if not self.bindings:
            raise NotImplementedError(
                f"Jericho has no bindings (grammar) for {self.story_file.name}, so it cannot detect valid "
                "actions: only its 57 games and TextWorld-made games have them.")
        frotz, util = self._frotz, self._util
        names = self._object_names()
        candidates = frotz.act_gen.generate_actions(names)
        diff_to_actions = frotz._filter_candidate_actions(candidates, use_ctypes=True, use_parallel=False)
        return [max(actions, key=util.verb_usage_count) for actions in diff_to_actions.values()]

    def _object_names(self) -> list[str]:
        """One word for each object the player can refer to here (see `_valid_actions`)."""
        texts = [self._observation, self._look(), self._inventory()]
        flagged = any(word.is_noun for word in self._dictionary.values())
        counts: dict[str, int] = {}
        first: dict[str, int] = {}
        for text in texts:
            for match in re.finditer(r"[a-z][a-z0-9'-]*", text.lower()):
                word = match.group()
                entry = self._dictionary.get(word[:self._word_length])
                if entry is None or word in _PRONOUNS or word in _COMPASS:
                    continue
                if (flagged and not entry.is_noun) or entry.is_verb or entry.is_prep or entry.is_meta \
                        or entry.is_dir or entry.is_special:
                    continue
                counts[word] = counts.get(word, 0) + 1
                first.setdefault(word, len(first))
        groups: dict[str, list[tuple[bool, int, int, str]]] = {}
        for word in counts:
            answer = self._util.clean(self._probe(f"examine {word}"))
            if not self._util.recognized(answer):
                continue
            plain = _CLARIFICATION.sub("", answer)
            groups.setdefault(plain, []).append((plain == answer, counts[word], first[word], word))
        return [max(group)[3] for group in groups.values()]

    # ------------------------------------------------------------------ gold path and state
    def _cache_namespace(self) -> str:
        return f"jericho-{self._jericho_version()}/{self._md5}"

    def _jericho_version(self) -> str:
        return self._jericho.version.__version__

    def _compute_gold_path(self, variation: int) -> list[str]:
        if self.bindings.get("walkthrough"):
            return self.bindings["walkthrough"].split("/")
        if self._is_textworld and self._textworld_json.is_file():
            walkthrough = orjson.loads(self._textworld_json.read_bytes())["metadata"].get("walkthrough")
            if walkthrough:
                return list(walkthrough)
        raise ValueError(f"No walkthrough is known for {self.story_file.name}: Jericho has none for it, and "
                         "it is not a TextWorld game with its .json beside it.")

    def get_state(self) -> JerichoState:
        """A snapshot of the episode, for `set_state` (Jericho's `get_state` plus textgym's record)."""
        self._require_episode()
        transition = Transition(observation=self._observation, score=self._score, moves=self._moves,
                                won=self._won, lost=self._lost)
        return JerichoState(self._md5, self._frotz.get_state(), tuple(self._actions), transition)

    def set_state(self, state: JerichoState) -> None:
        """Go back to a snapshot of this game (also after later resets)."""
        if not isinstance(state, JerichoState) or state.game != self._md5:
            raise ValueError("set_state takes a JerichoState from get_state() of an env playing the same "
                             "story file.")
        self._require_episode()
        self._start().set_state(state.frotz)
        self._actions = list(state.actions)
        self._accept(state.transition)
