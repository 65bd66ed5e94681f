"""TextWorld family: the same game as `textworld.gym`, the generated-game cache, bad input.

The registry-wide contract is in test_contract.py. Games here are made by TextWorld's real
generator; the module makes the ones it plays in one generator process, up front.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from pathlib import Path

import gymnasium as gym
import pytest

from tests.helpers import wait_until_dead
from textgym.envs.textworld import TextWorldEnv, to_command
from textgym.envs.textworld_games import (
    GAMES_VARIABLE,
    GameGenerationError,
    GameGenerator,
    ensure_games,
    game_folder,
    is_complete,
    resolve_settings,
)
from textgym.envs.textworld_games import (
    split_seeds as game_seeds,
)

# (challenge, non-default settings, seed): a game of each challenge, two splits for cooking. The
# slow ones take seconds more to generate; test_contract.py plays every challenge too.
PLAYED = [("coin_collector", {}, 0), ("coin_collector", {}, 1), ("cooking", {}, 0),
          ("cooking", {"go": 1, "recipe": 1}, 10000)]
SLOW = [("treasure_hunter", {"level": 15}, 1), ("simple", {"rewards": "dense"}, 20000)]


@pytest.fixture(scope="module", autouse=True)
def generated() -> None:
    """The games the fast tests play, made in one generator process."""
    with GameGenerator() as generator:
        for challenge, settings, seed in PLAYED:
            ensure_games(challenge, resolve_settings(challenge, settings), [seed], generator)


def split_name(seed: int) -> str:
    return next(split for split, seeds in game_seeds(10000).items() if seed in seeds)


@pytest.mark.parametrize(("challenge", "settings", "seed"),
                         [*PLAYED, *(pytest.param(*game, marks=pytest.mark.slow) for game in SLOW)])
def test_walkthrough_wins_and_quests_become_sub_goals(challenge: str, settings: dict, seed: int) -> None:
    env = gym.make(f"TextWorld/{challenge}-v0", split=split_name(seed), extra_info=("subgoals",),
                   **settings)
    try:
        _, info = env.reset(options={"variation": seed})
        assert info["subgoals"] and not any(goal["done"] for goal in info["subgoals"])
        assert env.unwrapped.policy_commands()
        done = 0
        for action in env.unwrapped.gold_path():
            _, _, terminated, _, info = env.step(action)
            assert sum(goal["done"] for goal in info["subgoals"]) >= done
            done = sum(goal["done"] for goal in info["subgoals"])
            if terminated:
                break
        assert terminated and info["won"] and info["score"] == info["max_score"] > 0
        assert all(goal["done"] for goal in info["subgoals"]) and env.unwrapped.policy_commands() == []
        game = Path(env.unwrapped.game_file(seed)).with_suffix(".json").read_text()
        if challenge == "cooking":  # dev games use TextWorld's held-out food items
            assert ('"split": "valid"' in game) == (seed == 10000)
    finally:
        env.close()


@pytest.mark.filterwarnings("ignore:Game .* is not fully supported")  # Jericho's, from textworld.gym
def test_same_observations_scores_and_commands_as_textworld_gym() -> None:
    import textworld
    import textworld.gym

    env = TextWorldEnv("cooking", admissible_commands=True, extra_info=("look", "inventory"))
    path = str(env.game_file(0))
    infos = textworld.EnvInfos(admissible_commands=True, description=True, inventory=True, objective=True,
                               score=True, max_score=True, won=True, lost=True)
    native = textworld.gym.make(textworld.gym.register_game(path, infos, max_episode_steps=1000))
    try:
        expected_obs, expected = native.reset()
        obs, info = env.reset(options={"variation": 0})
        actions = ["xyzzy", "look", "take", "inventory", *env.gold_path()]
        reward = expected_score = 0
        for action in [None, *actions]:
            if action is not None:
                previous = expected["score"]
                expected_obs, expected_score, done, expected = native.step(action)
                obs, reward, terminated, _, info = env.step(action)
                assert reward == expected_score - previous and terminated == done
            assert obs == expected_obs
            assert (info["task"], info["max_score"]) == (expected["objective"], expected["max_score"])
            assert (info["score"], info["won"], info["lost"]) == (expected["score"], expected["won"],
                                                                   expected["lost"])
            assert info["admissible_commands"] == expected["admissible_commands"]
            assert (info["look"], info["inventory"]) == (expected["description"], expected["inventory"])
            if action is not None and terminated:
                break
        assert info["won"] and expected_score == info["max_score"]
    finally:
        native.close()
        env.close()


def test_extras_asked_for_mid_episode_replay_it() -> None:
    plain = TextWorldEnv("coin_collector")
    tracked = TextWorldEnv("coin_collector", admissible_commands=True, extra_info=("look", "inventory",
                                                                                   "subgoals"))
    try:
        for env in (plain, tracked):
            env.reset(options={"variation": 1})
            for action in env.gold_path()[:2]:
                env.step(action)
        assert plain.admissible_commands() == tracked.admissible_commands()
        assert (plain.look(), plain.inventory()) == (tracked.look(), tracked.inventory())
        assert plain.subgoals() == tracked.subgoals()
        assert plain.policy_commands() == tracked.policy_commands() == plain.gold_path()[2:]
        assert plain.actions_taken == tracked.actions_taken
        assert plain.step("go west")[0] == tracked.step("go west")[0]
    finally:
        plain.close()
        tracked.close()


def test_commands_reach_the_parser_as_one_line() -> None:
    assert to_command("\\q") == "q" and to_command(" \n ") == ""
    env = TextWorldEnv("coin_collector")
    try:
        env.reset(options={"variation": 0})
        # A raw backslash would hang the interpreter. (The status line after ">" counts turns.)
        assert env.step("\\help")[0].split(">")[0] == env.step("help")[0].split(">")[0]
        first, *rest = env.gold_path()
        # A newline would run two commands in one step: refused, and the game is left as it was.
        with pytest.raises(ValueError, match="newline or other control character"):
            env.step(first.replace(" ", "\n "))
        env.step(first)
        assert env.policy_commands() == rest
        assert "pardon" in env.step(" ")[0]  # nothing to parse: the game's own answer
    finally:
        env.close()


def test_cache_regenerates_corrupt_and_missing_files_identically(monkeypatch, tmp_path, caplog) -> None:
    settings = resolve_settings("coin_collector", {})
    shared = ensure_games("coin_collector", settings, [0, 1])  # made by the module's generator process
    originals = {seed: game_bytes(path) for seed, path in shared.items()}
    monkeypatch.setenv(GAMES_VARIABLE, str(tmp_path))
    with GameGenerator() as generator:
        files = ensure_games("coin_collector", settings, [0, 1], generator)
        assert all(path.is_relative_to(tmp_path) for path in files.values())
        # Another process, the same bytes: generation is deterministic.
        assert {seed: game_bytes(path) for seed, path in files.items()} == originals
        files[0].write_bytes(files[0].read_bytes()[:1000])  # a truncated story file
        files[1].with_suffix(".json").unlink()  # a missing game description
        assert not is_complete(files[0].parent) and not is_complete(files[1].parent)
        with caplog.at_level(logging.WARNING):
            assert ensure_games("coin_collector", settings, [0, 1], generator) == files
    assert sum("missing or corrupt" in record.message for record in caplog.records) == 2
    assert {seed: game_bytes(path) for seed, path in files.items()} == originals
    (files[0].parent / "manifest.json").write_text("{not json")
    assert not is_complete(files[0].parent)


def game_bytes(story: Path) -> tuple[bytes, bytes]:
    return story.read_bytes(), story.with_suffix(".json").read_bytes()


def test_two_processes_asking_for_the_same_game_generate_it_once(tmp_path) -> None:
    script = ("import logging; logging.basicConfig(level=logging.INFO)\n"
              "from textgym.envs.textworld_games import ensure_games\n"
              "print(ensure_games('treasure_hunter', {'level': 1}, [3])[3])")
    env = {**os.environ, GAMES_VARIABLE: str(tmp_path)}
    processes = [subprocess.Popen([sys.executable, "-c", script], env=env, stdout=subprocess.PIPE,
                                  stderr=subprocess.PIPE, text=True) for _ in range(2)]
    results = [process.communicate(timeout=300) for process in processes]
    assert [process.returncode for process in processes] == [0, 0], results
    assert results[0][0] == results[1][0]
    assert sum(err.count("Generating 1 treasure_hunter game") for _, err in results) == 1
    game = Path(results[0][0].strip()).parent
    assert is_complete(game)
    assert [path.name for path in game.parent.iterdir() if path.name.startswith(".")] == []  # no leftovers


def test_generator_failure_names_the_game(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv(GAMES_VARIABLE, str(tmp_path))
    with GameGenerator() as generator:
        with pytest.raises(GameGenerationError, match=r"coin_collector game \(level=250\), seed 4: "
                                                      r"ValueError: .*100 rooms"):
            ensure_games("coin_collector", {"level": 250}, [4], generator)  # what resolve_settings refuses
        assert not game_folder("coin_collector", {"level": 250}, 4).exists()
        pid = generator.pid
        os.kill(pid, signal.SIGKILL)  # a generator process that died is restarted on the next request
        assert wait_until_dead(pid)
        assert is_complete(ensure_games("coin_collector", {"level": 1}, [4], generator)[4].parent)


def test_splits_use_disjoint_game_seeds() -> None:
    env = TextWorldEnv("cooking", num_games=3)
    assert [env.variations(split) for split in ("train", "dev", "test")] == [
        [0, 1, 2], [10000, 10001, 10002], [20000, 20001, 20002]]
    with pytest.raises(ValueError, match=r"belongs to the 'dev' split"):
        env.reset(options={"variation": 10001})
    with pytest.raises(ValueError, match=r"not in the 'train' split"):
        env.reset(options={"variation": 3})


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Unknown TextWorld challenge 'coin_colector'.*'coin_collector'"):
        gym.make("TextWorld/coin_collector-v0", challenge="coin_colector")
    assert TextWorldEnv("tw-cooking").challenge == "cooking"
    with pytest.raises(TypeError, match=r"no setting 'levle'.*'level'"):
        TextWorldEnv("treasure_hunter", levle=3)
    with pytest.raises(ValueError, match=r"level must be an integer in \[1, 30\], got 31"):
        TextWorldEnv("treasure_hunter", level=31)
    with pytest.raises(ValueError, match=r"level 180 needs 160 rooms.*at most 100"):
        TextWorldEnv("coin_collector", level=180)
    with pytest.raises(ValueError, match=r"take must be an integer in \[0, 2\], got 3"):
        TextWorldEnv("cooking", take=3)
    with pytest.raises(ValueError, match=r"go must be one of \[1, 6, 9, 12\], got 7"):
        TextWorldEnv("cooking", go=7)
    with pytest.raises(ValueError, match=r"drop must be one of \[False, True\], got 'yes'"):
        TextWorldEnv("cooking", drop="yes")
    with pytest.raises(ValueError, match=r"needs take >= 1"):
        TextWorldEnv("cooking", take=0, recipe_seed=5)
    with pytest.raises(ValueError, match=r"rewards must be one of"):
        TextWorldEnv("simple", rewards="none")
    for num_games in (0, 10001, True, 2.5):
        with pytest.raises(ValueError, match=r"num_games"):
            TextWorldEnv("simple", num_games=num_games)


def test_textgym_imports_without_textworld_and_says_how_to_install_it() -> None:
    script = ("import sys; sys.modules['textworld'] = None\n"
              "import gymnasium as gym, textgym\n"
              "assert 'TextWorld/cooking-v0' in textgym.registered_ids('TextWorld')\n"
              "try:\n    gym.make('TextWorld/cooking-v0')\n"
              "except ImportError as error:\n    print(error)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install textgym[textworld]" in out.stdout
