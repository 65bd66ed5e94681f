"""Jericho family: the same game as Jericho's own `FrotzEnv`, finding the user's story files,
valid actions, the commands that never reach the interpreter, state save/restore, bad input.

No classic game may be shipped, so every test plays real Z-machine story files made by TextWorld's
generator (Jericho plays TextWorld games); the registry-wide contract is in test_contract.py.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import warnings
from pathlib import Path

import gymnasium as gym
import jericho
import pytest

from tests.helpers import textworld_story
from textgym.envs.jericho import (
    GAMES,
    GAMES_VARIABLE,
    JerichoEnv,
    JerichoGameNotFoundError,
    find_story_file,
)
from textgym.wrappers import CandidateActions


@pytest.fixture(scope="module")
def cooking() -> Path:
    return textworld_story("cooking", seed=0)


@pytest.fixture(scope="module")
def coin() -> Path:
    return textworld_story("coin_collector", seed=1)


def test_ids_are_jerichos_games() -> None:
    import textgym

    assert set(GAMES) == {bindings["name"] for bindings in jericho.defines.BINDINGS_DICT.values()}
    assert textgym.registered_ids("Jericho") == [f"Jericho/{game}-v0" for game in (*GAMES, "custom")]


def test_same_observations_scores_and_end_as_frotzenv(cooking: Path, tmp_path: Path) -> None:
    story = tmp_path / "tw-cooking.z8"  # Jericho's own env knows TextWorld games by their file name
    shutil.copy(cooking, story)
    env = JerichoEnv(game_file=cooking, game_seed=7)
    native = jericho.FrotzEnv(str(story), seed=7)
    try:
        expected_obs, _ = native.reset()
        obs, info = env.reset(seed=0)
        assert obs == expected_obs and info["max_score"] == native.get_max_score() == 7
        assert info["task"].startswith("You are hungry!")  # the game's objective, from TextWorld's .json
        walkthrough = env.gold_path()
        assert walkthrough == json.loads(cooking.with_suffix(".json").read_text())["metadata"]["walkthrough"]
        for action in ["xyzzy", "look", "take", "inventory", "examine cookbook", *walkthrough]:
            expected_obs, expected_reward, done, expected = native.step(action)
            obs, reward, terminated, truncated, info = env.step(action)
            assert obs == expected_obs and reward == expected_reward and terminated == done
            assert (info["score"], info["moves"]) == (expected["score"], expected["moves"])
            assert (info["won"], info["lost"]) == (native.victory(), native.game_over())
        assert terminated and info["won"] and info["score"] == info["max_score"] == 7
        with pytest.raises(gym.error.ResetNeeded):
            env.step("look")
    finally:
        env.close()


def test_admissible_commands_are_commands_that_change_the_game(cooking: Path) -> None:
    env = JerichoEnv(game_file=cooking, extra_info=("look", "inventory"))
    try:
        _, info = env.reset()
        commands = env.admissible_commands()
        assert {"open fridge", "take knife", "south"} <= set(commands)  # what the room offers
        start = env.get_state()
        for command in commands:
            env.set_state(start)
            _, reward, _, _, after = env.step(command)
            assert reward or (after["look"], after["inventory"]) != (info["look"], info["inventory"]), command
        env.set_state(start)
        assert env.admissible_commands() == commands  # detection leaves the game as it was
    finally:
        env.close()


def test_admissible_commands_after_ctypes_util_was_imported(coin: Path) -> None:
    # CI once failed here: importing `ctypes.util` before jericho turns the attribute `jericho.util`
    # into ctypes' module. A fresh interpreter, so that the import order is the one a user's can have.
    script = ("import ctypes.util, sys\nfrom textgym.envs.jericho import JerichoEnv\n"
              "env = JerichoEnv(game_file=sys.argv[1])\nenv.reset()\nprint(len(env.admissible_commands()))")
    done = subprocess.run([sys.executable, "-c", script, str(coin)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout) > 0


def test_commands_that_would_leave_the_episode_are_answered_not_sent(coin: Path, tmp_path: Path,
                                                                     monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)  # Frotz writes saves and transcripts to the working directory
    env = JerichoEnv(game_file=coin)
    try:
        env.reset()
        look = env.look()
        for command in ("save", "restore", "RESTART", "quit", "q", "script", "transcript", "recording on",
                        "go south. quit", "look then save"):
            obs, reward, terminated, _, info = env.step(command)
            assert obs.startswith("[textgym] The command") and "not sent" in obs, command
            assert (reward, terminated, info["moves"]) == (0.0, False, 1)
        assert env.look() == look and list(tmp_path.iterdir()) == []
        obs, *_ = env.step("quietly look")  # a word that merely starts like one is the game's business
        assert "[textgym]" not in obs
    finally:
        env.close()


def test_newlines_and_backslashes_are_clear_errors_not_hangs(coin: Path) -> None:
    env = gym.make("Jericho/custom-v0", game_file=str(coin))
    try:
        env.reset()
        for action in ("look\nnorth", "go\tsouth", "\\help", "take coin\r"):
            with pytest.raises(ValueError, match="one line"):
                env.step(action)
        assert not env.action_space.contains("look\nnorth") and env.action_space.contains("go south")
        with pytest.raises(ValueError, match="at most 198"):
            env.step("x" * 199)  # Frotz's input buffer; Jericho itself would cut it silently
    finally:
        env.close()


def test_state_save_and_restore(coin: Path, cooking: Path) -> None:
    env = JerichoEnv(game_file=coin)
    try:
        env.reset()
        env.step("go south")
        saved = env.get_state()
        first = [env.step(action)[:2] for action in ("go east", "go north")]
        env.set_state(saved)
        assert env.actions_taken == ["go south"]
        assert [env.step(action)[:2] for action in ("go east", "go north")] == first
        env.reset()
        env.set_state(saved)  # across episodes too
        assert env.step("go east")[:2] == first[0]
        other = JerichoEnv(game_file=cooking)
        other.reset()
        with pytest.raises(ValueError, match="same story file"):
            other.set_state(saved)
        other.close()
    finally:
        env.close()


def test_the_game_rng_seed_is_explicit(coin: Path) -> None:
    # TextWorld's games reseed the generator themselves (with 1234), so what can be checked on them
    # is that the interpreter gets the seed asked for, where the stock FrotzEnv would use the clock.
    assert JerichoEnv(game_file=coin).game_seed == 0
    env = JerichoEnv(game_file=coin, game_seed=0)
    env.reset()
    assert env._frotz._seed == 0
    env.close()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert jericho.FrotzEnv(str(coin), seed=0)._seed == -1  # the stock quirk: 0 means the clock
    with pytest.raises(ValueError, match="game_seed"):
        JerichoEnv(game_file=coin, game_seed=-1)


def test_missing_or_wrong_story_files_are_clear_errors(coin: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.delenv(GAMES_VARIABLE, raising=False)
    with pytest.raises(JerichoGameNotFoundError, match=rf"zork1.z5 .*{GAMES_VARIABLE} is not set.*"
                                                       r"z-machine-games"):
        gym.make("Jericho/zork1-v0")
    monkeypatch.setenv(GAMES_VARIABLE, str(tmp_path))
    (tmp_path / "zork1.z5").write_bytes(coin.read_bytes())  # the right name, another game
    with pytest.raises(JerichoGameNotFoundError, match=rf"looked in {tmp_path} \(from \${GAMES_VARIABLE}"):
        gym.make("Jericho/zork1-v0")
    with pytest.raises(JerichoGameNotFoundError, match=r"game_dir='/nowhere'.*is not a folder"):
        gym.make("Jericho/zork1-v0", game_dir="/nowhere")
    with pytest.raises(ValueError, match=r"not the release of zork1.*Jericho/custom-v0"):
        gym.make("Jericho/zork1-v0", game_file=str(coin))
    with pytest.raises(ValueError, match=r"Unknown Jericho game 'zork'.*'zork1'"):
        JerichoEnv("zork")
    with pytest.raises(ValueError, match="game_file="):
        gym.make("Jericho/custom-v0")
    with pytest.raises(JerichoGameNotFoundError, match="does not exist"):
        gym.make("Jericho/custom-v0", game_file=str(tmp_path / "missing.z5"))
    (tmp_path / "notes.z5").write_text("not a story")
    with pytest.raises(ValueError, match="not a Z-machine story file"):
        gym.make("Jericho/custom-v0", game_file=str(tmp_path / "notes.z5"))
    (tmp_path / "broken.z5").write_bytes(bytes([5]) + bytes(range(256)) * 40)  # a header, then garbage
    with pytest.raises(ValueError, match="Jericho cannot run"):  # Frotz's fatal error ends a child, not us
        gym.make("Jericho/custom-v0", game_file=str(tmp_path / "broken.z5"))


def test_named_games_are_found_by_name_or_by_md5(coin: Path, tmp_path: Path, monkeypatch) -> None:
    # No classic story file may be shipped: this test alone registers a TextWorld game's MD5 as
    # "zork1" in Jericho's table, to check how textgym looks for a named game's file.
    md5 = hashlib.md5(coin.read_bytes()).hexdigest()
    bindings = dict(next(b for b in jericho.defines.BINDINGS_DICT.values() if b["name"] == "zork1"))
    monkeypatch.setitem(jericho.defines.BINDINGS_DICT, md5, bindings)
    monkeypatch.delitem(jericho.defines.BINDINGS_DICT, "b732a93a6244ddd92a9b9a3e3a46c687")
    (tmp_path / "games" / "suite").mkdir(parents=True)
    shutil.copy(coin, tmp_path / "games" / "suite" / "renamed.z8")
    found = find_story_file("zork1", game_dir=tmp_path / "games")
    assert found == tmp_path / "games" / "suite" / "renamed.z8"
    shutil.copy(coin, tmp_path / "games" / "zork1.z5")
    monkeypatch.setenv(GAMES_VARIABLE, str(tmp_path / "games"))
    assert find_story_file("zork1") == tmp_path / "games" / "zork1.z5"


def test_candidate_actions_and_play_work_unchanged(coin: Path) -> None:
    env = CandidateActions(gym.make("Jericho/custom-v0", game_file=str(coin)), max_candidates=8)
    try:
        _, info = env.reset(seed=0)
        assert info["candidates"] == ["south"] and env.action_masks().sum() == 1
        for action in env.unwrapped.gold_path():  # "go south" is offered as Jericho names it: "south"
            _, reward, terminated, _, info = env.step(info["candidates"].index(action.removeprefix("go ")))
        assert terminated and info["won"] and reward == 1
    finally:
        env.close()
    script = "\n".join(["valid", "gold", "go south", "save", "quit"]) + "\n"
    out = subprocess.run([sys.executable, "-m", "textgym.cli", "play", "Jericho/custom-v0", "--kwarg",
                          f"game_file={coin}"], input=script, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "Spare Room" in out.stdout and "take coin" in out.stdout and "not sent to the game" in out.stdout


def test_textgym_imports_without_jericho_and_says_how_to_install_it() -> None:
    script = ("import sys; sys.modules['jericho'] = None\n"
              "import gymnasium as gym, textgym\n"
              "assert 'Jericho/zork1-v0' in textgym.registered_ids('Jericho')\n"
              "try:\n    gym.make('Jericho/zork1-v0')\n"
              "except ImportError as error:\n    print(error)\n")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "pip install textgym[jericho]" in out.stdout


@pytest.mark.slow
def test_drrn_trains_on_a_jericho_game_unchanged(coin: Path, tmp_path: Path) -> None:
    from textgym.agents.drrn import DRRNAgent
    from textgym.cli import main

    assert main(["train", "drrn", "--env", "Jericho/custom-v0", "--env-kwargs",
                 json.dumps({"game_file": str(coin)}), "--total-steps", "120", "--num-envs", "2",
                 "--max-episode-steps", "10", "--max-candidates", "8", "--hidden-dim", "16",
                 "--embedding-dim", "8", "--learning-starts", "40",
                 "--tokenizer-episodes", "2", "--seed", "0", "--quiet", "--out", str(tmp_path)]) == 0
    agent = DRRNAgent.load(tmp_path / "agent")
    env = gym.make("Jericho/custom-v0", game_file=str(coin), admissible_commands=True,
                   extra_info=("look", "inventory"))  # what DRRN reads (its required_info)
    observation, info = env.reset(seed=0)
    agent.reset(1)
    agent.reset_env(0, seed=0)
    assert agent.act(observation, info) in info["admissible_commands"]
    env.close()
