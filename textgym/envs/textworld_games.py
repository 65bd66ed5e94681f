"""TextWorld games made by TextWorld's own generators, once, into a cache that processes share.

A game is fixed by its challenge, its settings and its seed. It is generated on first use by the
challenge's `make` function (what `tw-make <challenge>` runs) in a child Python process started
with `PYTHONHASHSEED=0` (`GameGenerator`, kept for the next games): TextWorld iterates over sets
while it writes a game, so in-process generation would give byte-different (if equivalent)
games from one run to the next. The child also keeps a generator crash or hang out of the
caller's process.

Layout, under `games_dir()` (`$TEXTGYM_TEXTWORLD_GAMES`, else `<textgym cache>/textworld-games`):

    textworld-1.7.0/<challenge>/<setting=value,...>/<seed>/game.z8, game.json, manifest.json

Two processes asking for the same game at once are safe: each game has a lock file, taken
before generating, and a game appears by renaming its finished folder into place, so nobody
sees half a game. `manifest.json` holds the files' SHA-256; a game whose files are missing or
do not match (a crash, a disk problem, an edit) is regenerated.

Seeds: train games use seeds 0, 1, 2, ..., dev games 10000, 10001, ..., test games 20000, ...
(`split_seeds`), so splits never share a game. Cooking games of the dev and test splits also use
TextWorld's held-out food items, and `simple` test games its test distribution.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import selectors
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import IO, Any

from textgym.cache import cache_dir, read_json, write_json_atomic
from textgym.envs.base import SPLITS, closest
from textgym.validation import check_integer

GAMES_VARIABLE = "TEXTGYM_TEXTWORLD_GAMES"
"""Environment variable: the folder of generated TextWorld games (e.g. a shared disk on a cluster)."""
SPLIT_OFFSETS = {"train": 0, "dev": 10000, "test": 20000}
MAX_GAMES = 10000
"""Most games per split (the seed blocks are 10000 wide)."""
GAME_FILES = ("game.z8", "game.json")
GENERATION_TIMEOUT_S = 600
"""Seconds allowed per game before a generation is declared hung."""

logger = logging.getLogger(__name__)


class GameGenerationError(RuntimeError):
    """TextWorld's generator failed (or hung) while making a game."""


def require_textworld() -> ModuleType:
    """The `textworld` package, or a clear error when it is missing (it is an optional extra)."""
    try:
        import textworld
    except ImportError as error:
        raise ImportError("TextWorld/* environments need the textworld package: "
                          f"pip install textgym[textworld] ({error})") from error
    return textworld


def games_dir() -> Path:
    """Where generated games live (created on first use)."""
    path = Path(os.environ.get(GAMES_VARIABLE) or cache_dir() / "textworld-games")
    path.mkdir(parents=True, exist_ok=True)
    return path


def split_seeds(num_games: int) -> dict[str, range]:
    """The game seeds of each split when each split has `num_games` games."""
    return {split: range(offset, offset + num_games) for split, offset in SPLIT_OFFSETS.items()}


def split_of(seed: int) -> str:
    """The split a game seed belongs to."""
    return next(split for split in SPLITS if seed in split_seeds(MAX_GAMES)[split])


# ---------------------------------------------------------------------------------- challenges
def _integer(settings: Mapping[str, Any], name: str, low: int, high: int) -> None:
    check_integer(name, settings[name], low, high)


def _choice(settings: Mapping[str, Any], name: str, choices: Iterable[Any]) -> None:
    choices = list(choices)
    if settings[name] not in choices or isinstance(settings[name], bool) != isinstance(choices[0], bool):
        raise ValueError(f"{name} must be one of {choices}, got {settings[name]!r}.")


def _check_coin_collector(settings: Mapping[str, Any]) -> None:
    _integer(settings, "level", 1, 300)
    level = settings["level"]
    rooms = ((level - 1) // 100 + 1) * ((level - 1) % 100 + 1)
    if rooms > 100:
        raise ValueError(f"Coin collector level {level} needs {rooms} rooms; TextWorld 1.7 games have at "
                         "most 100 (levels 1-100, 101-150 and 201-233 work).")


def _check_treasure_hunter(settings: Mapping[str, Any]) -> None:
    _integer(settings, "level", 1, 30)


def _check_cooking(settings: Mapping[str, Any]) -> None:
    _integer(settings, "recipe", 1, 5)
    _integer(settings, "take", 0, settings["recipe"])
    _choice(settings, "go", (1, 6, 9, 12))
    for flag in ("open", "cook", "cut", "drop"):
        _choice(settings, flag, (False, True))
    _integer(settings, "recipe_seed", 0, 2**31 - 1)
    if settings["recipe_seed"] > 0 and settings["take"] == 0:
        raise ValueError("recipe_seed > 0 draws the recipe among the items to find, so it needs take >= 1.")


def _check_simple(settings: Mapping[str, Any]) -> None:
    _choice(settings, "rewards", ("dense", "balanced", "sparse"))
    _choice(settings, "goal", ("detailed", "brief", "none"))


@dataclass(frozen=True)
class Challenge:
    """A TextWorld challenge: its generator, its settings (defaults and checks) and its docs."""

    generator: str
    defaults: dict[str, Any]
    check: Callable[[Mapping[str, Any]], None]
    docs: dict[str, str]
    split_settings: Callable[[str], dict[str, Any]] = field(default=lambda split: {})
    """Settings TextWorld itself derives from the split (held-out items)."""


_COOKING_SPLITS = {"train": "train", "dev": "valid", "test": "test"}

CHALLENGES: dict[str, Challenge] = {
    "coin_collector": Challenge(
        "tw-coin_collector", {"level": 5}, _check_coin_collector,
        {"level": "1-100: a chain of (level) rooms to the coin; 101-200: twice as many rooms, with "
                  "dead ends; 201-300: three times, placed at random (100 rooms at most)"}),
    "treasure_hunter": Challenge(
        "tw-treasure_hunter", {"level": 5}, _check_treasure_hunter,
        {"level": "1-10: 5 empty rooms, no doors; 11-20: 10 rooms, closed doors and containers; "
                  "21-30: 20 rooms, locked doors and containers; the quest grows with the level"}),
    "cooking": Challenge(
        "tw-cooking",
        {"recipe": 2, "take": 1, "go": 6, "open": True, "cook": True, "cut": True, "drop": False,
         "recipe_seed": 0},
        _check_cooking,
        {"recipe": "ingredients in the recipe (1-5)",
         "take": "ingredients to find, the others are in the inventory (0-recipe)",
         "go": "number of rooms (1, 6, 9 or 12)",
         "open": "containers and doors must be opened", "cook": "ingredients must be cooked",
         "cut": "ingredients must be cut", "drop": "the inventory is limited, so items must be dropped",
         "recipe_seed": "0: the recipe uses the game's ingredients; > 0: a recipe drawn with this seed "
                        "among the ingredients and distractors"},
        lambda split: {"split": _COOKING_SPLITS[split]}),
    "simple": Challenge(
        "tw-simple", {"rewards": "balanced", "goal": "detailed"}, _check_simple,
        {"rewards": "dense, balanced or sparse intermediate rewards",
         "goal": "detailed, brief or none: how much of the quest the objective spells out"},
        lambda split: {"test": split == "test"}),
}
"""TextWorld 1.7.0's challenges, by textgym name (TextWorld's own name without `tw-`)."""


def resolve_challenge(challenge: str) -> str:
    """textgym's name of a challenge, from it or from TextWorld's (`tw-cooking`)."""
    name = str(challenge).removeprefix("tw-")
    if name in CHALLENGES:
        return name
    raise ValueError(f"Unknown TextWorld challenge {challenge!r}.{closest(name, list(CHALLENGES))} "
                     f"The challenges are: {', '.join(CHALLENGES)}.")


def resolve_settings(challenge: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """Every setting of `challenge` (defaults filled in), checked."""
    spec = CHALLENGES[challenge]
    unknown = [key for key in values if key not in spec.defaults]
    if unknown:
        raise TypeError(f"TextWorld {challenge!r} has no setting {unknown[0]!r}."
                        f"{closest(unknown[0], list(spec.defaults))} "
                        f"Its settings are: {', '.join(spec.defaults)}.")
    settings = {**spec.defaults, **values}
    spec.check(settings)
    return settings


def settings_key(settings: Mapping[str, Any]) -> str:
    """A folder name for settings: `go=6,open=1,recipe=2,...`."""
    return ",".join(f"{key}={int(value) if isinstance(value, bool) else value}"
                    for key, value in sorted(settings.items()))


# ---------------------------------------------------------------------------------- the cache
def game_folder(challenge: str, settings: Mapping[str, Any], seed: int) -> Path:
    return (games_dir() / f"textworld-{require_textworld().__version__}" / challenge / settings_key(settings)
            / str(seed))


def ensure_games(challenge: str, settings: Mapping[str, Any], seeds: Iterable[int],
                 generator: GameGenerator | None = None) -> dict[int, Path]:
    """The `.z8` file of each seed's game, generating the missing ones first.

    `settings` must be complete (see `resolve_settings`). A corrupt or half-present game is
    regenerated. `generator` is a live `GameGenerator` to reuse (default: a new one for this
    call). Raises `GameGenerationError`, naming the game, when TextWorld's generator fails.
    """
    games = {seed: game_folder(challenge, settings, seed) for seed in sorted(set(seeds))}
    missing = [seed for seed, folder in games.items() if not is_complete(folder)]
    if missing:
        folder = games[missing[0]].parent
        folder.mkdir(parents=True, exist_ok=True)
        with _locked(folder, missing), contextlib.ExitStack() as stack:
            missing = [seed for seed in missing if not is_complete(games[seed])]  # made while we waited?
            if missing:
                generator = generator or stack.enter_context(GameGenerator())
                _generate(generator, challenge, settings, {seed: games[seed] for seed in missing})
    return {seed: folder / GAME_FILES[0] for seed, folder in games.items()}


def is_complete(game: Path) -> bool:
    """Whether `game` holds every file, each matching the SHA-256 of its manifest."""
    manifest = read_json(game / "manifest.json")
    if not isinstance(manifest, dict) or not isinstance(manifest.get("sha256"), dict):
        return False
    for name in GAME_FILES:
        try:
            if _sha256(game / name) != manifest["sha256"].get(name):
                return False
        except FileNotFoundError:
            return False
    return True


def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def _locked(folder: Path, seeds: list[int]) -> Iterator[None]:
    """Exclusive locks on the seeds' games, taken in seed order so that processes never deadlock."""
    with contextlib.ExitStack() as stack:
        for seed in sorted(seeds):
            handle = stack.enter_context(open(folder / f"{seed}.lock", "a"))
            fcntl.flock(handle, fcntl.LOCK_EX)  # released when the file closes
        yield


def _generate(generator: GameGenerator, challenge: str, settings: Mapping[str, Any],
              games: dict[int, Path]) -> None:
    """Make `games` (seed -> final folder) in a temporary folder, then move each into place."""
    spec = CHALLENGES[challenge]
    folder = next(iter(games.values())).parent
    logger.info("Generating %d %s game(s) into %s", len(games), challenge, folder)
    with tempfile.TemporaryDirectory(dir=folder, prefix=".generating-") as tmp:
        generator.make(challenge, settings, {
            seed: {"settings": {**settings, **spec.split_settings(split_of(seed))},
                   "path": str(Path(tmp) / str(seed) / GAME_FILES[0])} for seed in games})
        for seed, final in games.items():
            made = Path(tmp) / str(seed)
            write_json_atomic(made / "manifest.json", {
                "textworld": require_textworld().__version__, "challenge": challenge,
                "settings": dict(settings), "seed": seed,
                "sha256": {name: _sha256(made / name) for name in GAME_FILES}})
            if final.exists():  # corrupt or incomplete (checked under the lock): set it aside first
                logger.warning("Regenerated TextWorld %s game %d (%s): its cached files were missing or "
                               "corrupt.", challenge, seed, settings_key(settings))
                trash = final.with_name(f".corrupt-{seed}-{uuid.uuid4().hex}")
                os.rename(final, trash)
                shutil.rmtree(trash, ignore_errors=True)
            os.rename(made, final)


class GameGenerator:
    """A child Python process that runs TextWorld's generators, kept alive between requests.

    The first game costs the child's start (importing TextWorld, parsing its grammars: several
    seconds); later games cost about as much as `tw-make` itself. The child runs with
    `PYTHONHASHSEED=0`, so a seed gives the same bytes in every run, and it exits when its
    stdin closes, which the kernel does when this process dies, so it never outlives its
    parent. `close()` ends it; it restarts on the next request.
    """

    def __init__(self) -> None:
        self._process: subprocess.Popen | None = None
        self._stderr: IO[bytes] | None = None

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def make(self, challenge: str, settings: Mapping[str, Any], games: Mapping[int, dict[str, Any]]) -> None:
        """Make `games` (seed -> {"settings": TextWorld's settings, "path": the .z8 to write})."""
        described = f"the TextWorld {challenge} game ({settings_key(settings)})"
        if self._process is None or self._process.poll() is not None:
            self._start()
        request = {"generator": CHALLENGES[challenge].generator,
                   "games": [{"seed": seed, **game} for seed, game in games.items()]}
        try:
            self._process.stdin.write(json.dumps(request) + "\n")
            self._process.stdin.flush()
        except BrokenPipeError:
            pass  # it died; reading its answer below reports how
        with selectors.DefaultSelector() as selector:
            selector.register(self._process.stdout, selectors.EVENT_READ)
            answered = selector.select(timeout=GENERATION_TIMEOUT_S * len(games))
        if not answered:
            self.close()
            raise GameGenerationError(f"TextWorld's generator hung making {described}, seeds {sorted(games)} "
                                      f"(over {GENERATION_TIMEOUT_S} s a game).")
        line = self._process.stdout.readline()
        if not line:
            raise GameGenerationError(f"TextWorld's generator died (exit code {self._process.wait()}) making "
                                      f"{described}, seeds {sorted(games)}: {self._stderr_tail()}")
        error = json.loads(line)["error"]
        if error:
            raise GameGenerationError(f"TextWorld's generator could not make {described}, {error}")

    def close(self) -> None:
        """End the child process. Safe to call any number of times."""
        if self._process is not None:
            self._process.stdin.close()  # the child's loop ends at EOF
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:  # busy on a game: it is not needed any more
                self._process.kill()
                self._process.wait()
            self._process.stdout.close()
            self._stderr.close()
        self._process = self._stderr = None

    def __enter__(self) -> GameGenerator:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def _start(self) -> None:
        self.close()
        self._stderr = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the child
        self._process = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE,
                                         stdout=subprocess.PIPE, stderr=self._stderr, text=True,
                                         env={**os.environ, "PYTHONHASHSEED": "0"})

    def _stderr_tail(self) -> str:
        self._stderr.seek(0)
        lines = [line for line in self._stderr.read().decode(errors="replace").splitlines() if line.strip()]
        return " | ".join(lines[-3:]) or "no output"


def serve() -> None:
    """The generator process: one JSON request a line on stdin, one JSON answer a line on stdout."""
    answers, sys.stdout = sys.stdout, sys.stderr  # what TextWorld prints must not mix with the answers
    import textworld
    import textworld.challenges
    from textworld.generator import compile_game

    for line in sys.stdin:
        request, error = json.loads(line), None
        make = textworld.challenges.CHALLENGES[request["generator"]][1]
        for game in request["games"]:
            options = textworld.GameOptions()
            options.seeds = game["seed"]
            options.path = game["path"]
            options.file_ext = ".z8"
            try:
                compile_game(make(settings=game["settings"], options=options), options)
            except Exception as exception:  # noqa: BLE001 - answered as one line; the parent names the game
                error = f"seed {game['seed']}: {type(exception).__name__}: {exception}"
                break
        answers.write(json.dumps({"error": error}) + "\n")
        answers.flush()


_CHILD = "from textgym.envs.textworld_games import serve; serve()"
