"""ScienceWorld family: identical to the stock simulator, fast-path extras, JVM lifecycle, bad input."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap

import gymnasium as gym
import numpy as np
import pytest
import scienceworld

import textgym
from tests.helpers import children, pid_alive, wait_until_dead
from textgym.envs import jvm
from textgym.envs.scienceworld import MAX_VARIATIONS, TASKS, ScienceWorldEnv, split_ranges

QUICK_TASKS = ["find-non-living-thing", "chemistry-mix-paint-secondary-color", "lifespan-longest-lived"]


@pytest.fixture(scope="module")
def env():
    """One env (one JVM) for the module; tests switch tasks through `on_task`."""
    environment = ScienceWorldEnv("boil", split="test", simplification="easy")
    yield environment
    environment.close()


def on_task(shared: ScienceWorldEnv, task: str, **kwargs) -> ScienceWorldEnv:
    """An env for `task` that borrows `shared`'s JVM (tests only: one JVM for many tasks)."""
    env = ScienceWorldEnv(task, **{"split": "test", "simplification": "easy", **kwargs})
    env._simulator = shared._simulator
    return env


@pytest.fixture(scope="module")
def stock():
    """The stock env, with the same deterministic JVM flags so the two can be compared."""
    previous = os.environ.get("JAVA_TOOL_OPTIONS")
    os.environ["JAVA_TOOL_OPTIONS"] = " ".join(jvm.DETERMINISTIC_HASHES)
    try:
        environment = scienceworld.ScienceWorldEnv(envStepLimit=10**6)
    finally:
        if previous is None:
            del os.environ["JAVA_TOOL_OPTIONS"]
        else:
            os.environ["JAVA_TOOL_OPTIONS"] = previous
    yield environment
    environment.close()


def test_registers_all_30_tasks_and_pins_the_version() -> None:
    assert textgym.SCIENCEWORLD_VERSION == scienceworld.__version__ == "1.2.3"
    ids = textgym.registered_ids("ScienceWorld")
    assert len(ids) == 30 == len(TASKS)
    assert ids[0] == "ScienceWorld/boil-v0" and "ScienceWorld/use-thermometer-v0" in ids


def test_variation_table_matches_the_simulator(env) -> None:
    server = env._simulator
    if not server.alive:
        env.reset(seed=0)
    with server.calls() as java:
        for task in TASKS:
            assert java.getTaskMaxVariations(task) == MAX_VARIATIONS[task]
            java.load(task, 0, "", False)
            expected = {"train": list(java.getVariationsTrain()), "dev": list(java.getVariationsDev()),
                        "test": list(java.getVariationsTest())}
            assert {k: list(v) for k, v in split_ranges(MAX_VARIATIONS[task]).items()} == expected


@pytest.mark.parametrize(("task", "split", "simplification"), [
    *[(task, "test", "easy") for task in QUICK_TASKS], ("boil", "test", "easy"), ("boil", "train", "")])
def test_identical_to_stock_on_the_same_commands(env, stock, task, split, simplification) -> None:
    """Gold path plus invalid commands, an ambiguous request answered by number, and a wrong focus.

    The stock env computes admissible commands on every step, which draws on the simulator's random
    generator (it picks a random name for each object), so ours computes them on every step too.
    """
    ours = on_task(env, task, split=split, simplification=simplification, admissible_commands=True)
    variation = ours.variations()[0]
    ours.reset(options={"variation": variation})
    gold = ours.gold_path()
    commands = ["fly to the moon", "focus on door", "0", *gold[:6], "open", "focus on air"]
    stock.load(task, variation, simplification)
    stock_obs, stock_info = stock.reset()
    obs, info = ours.reset(options={"variation": variation})
    assert (obs, info["score"]) == (stock_obs, stock_info["score"])
    assert info["task"] == stock.get_task_description()
    for command in commands:
        stock_obs, stock_reward, stock_done, stock_info = stock.step(command)
        obs, reward, terminated, truncated, info = ours.step(command)
        assert (obs, reward, info["score"], info["moves"]) == (
            stock_obs, stock_reward, stock_info["score"], stock_info["moves"]), command
        assert sorted(set(stock_info["valid"])) == info["admissible_commands"]
        assert ours.look() == stock_info["look"] and ours.inventory() == stock_info["inv"]
        if terminated:
            break
    if task == "boil":  # focusing on the wrong thing loses, in both
        assert info["lost"] and info["score"] == -100 and terminated and stock_done
        with pytest.raises(gym.error.ResetNeeded):
            ours.step("look around")


def walk(env: ScienceWorldEnv, variation: int, commands: list[str], random_steps: int, seed: int = 0):
    """Observations and infos along `commands`, then along `random_steps` uniformly random admissible
    commands (drawn by `seed`): what two envs that should be identical are compared on."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(options={"variation": variation})
    seen = [(obs, info)]
    for command in commands:
        obs, _, terminated, _, info = env.step(command)
        seen.append((obs, info))
        if terminated:
            return seen
    for _ in range(random_steps):
        obs, _, terminated, _, info = env.step(str(rng.choice(info["admissible_commands"])))
        seen.append((obs, info))
        if terminated:
            break
    return seen


def without_helpers(monkeypatch, tmp_path, task: str, **kwargs) -> ScienceWorldEnv:
    """An env on py4j's stock server and the simulator's own methods, as on a machine without a JDK."""
    monkeypatch.setenv("TEXTGYM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(jvm, "find_javac", lambda java: None)
    env = ScienceWorldEnv(task, split="test", admissible_commands=True, **kwargs)
    with pytest.warns(RuntimeWarning, match=r"no `javac` found.*Install a JDK"):
        env.reset(options={"variation": env.variations()[0]})
    monkeypatch.undo()
    assert not env._simulator.helpers_loaded
    return env


@pytest.mark.parametrize(("task", "simplification"), [("grow-fruit", "easy"), ("find-animal", None)])
def test_fast_admissible_commands_are_the_simulators_own(monkeypatch, tmp_path, task, simplification) -> None:
    """`ScienceWorldBridge.validActions` against the simulator's method on py4j's stock server:
    the same commands at every step, and the same random draws (grow-fruit's later events depend on
    them), along the gold path, an ambiguous request, and random admissible commands."""
    reference = without_helpers(monkeypatch, tmp_path, task, simplification=simplification)
    fast = ScienceWorldEnv(task, split="test", simplification=simplification, admissible_commands=True)
    try:
        variation = fast.variations()[0]
        fast.reset(options={"variation": variation})
        assert fast._simulator.helpers_loaded
        gold = fast.gold_path()
        commands = ["focus on door", "0", *gold[:-1]] if simplification is None else gold[:-1]
        expected = walk(reference, variation, commands, random_steps=40)
        assert walk(fast, variation, commands, random_steps=40) == expected
        assert max(len(info["admissible_commands"]) for _, info in expected) > jvm.SPLIT_REPLY_SIZE
    finally:
        fast.close()
        reference.close()


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TASKS))
def test_fast_admissible_commands_are_the_simulators_own_on_every_task(monkeypatch, tmp_path, task) -> None:
    reference = without_helpers(monkeypatch, tmp_path, task)
    fast = ScienceWorldEnv(task, split="test", admissible_commands=True)
    try:
        variation = fast.variations()[0]
        fast.reset(options={"variation": variation})
        commands = fast.gold_path()[:-1]
        assert walk(fast, variation, commands, 60) == walk(reference, variation, commands, 60)
    finally:
        fast.close()
        reference.close()


def test_helpers_are_compiled_once_per_cache(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TEXTGYM_CACHE_DIR", str(tmp_path))
    first = ScienceWorldEnv("find-plant")
    first.reset(seed=0)
    built = list((tmp_path / "java").iterdir())
    assert [path.name[:8] for path in built] == ["helpers-"] and first._simulator.helpers_loaded
    monkeypatch.setattr(jvm, "find_javac", lambda java: pytest.fail("compiled twice"))
    second = ScienceWorldEnv("find-plant")
    try:
        second.reset(seed=0)
        assert second._simulator.helpers_loaded and list((tmp_path / "java").iterdir()) == built
    finally:
        first.close()
        second.close()


def test_a_failing_javac_falls_back_to_the_stock_server_with_its_error(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("TEXTGYM_CACHE_DIR", str(tmp_path))
    monkeypatch.setattr(jvm, "find_javac", lambda java: "/bin/false")
    env = ScienceWorldEnv("find-plant", admissible_commands=True)
    try:
        with pytest.warns(RuntimeWarning, match="could not build its Java helpers .javac failed"):
            obs, info = env.reset(seed=0)
        assert not env._simulator.helpers_loaded and "look around" in info["admissible_commands"]
        assert not list((tmp_path / "java").iterdir())  # nothing half-built is left to be reused
    finally:
        env.close()


def test_wrong_focus_loses_the_episode(env) -> None:
    ours = on_task(env, "boil")
    ours.reset(options={"variation": 21})
    obs, reward, terminated, truncated, info = ours.step("focus on air")
    assert terminated and info["lost"] and not info["won"] and info["score"] == -100 and reward == -100


def test_ambiguous_request_is_answered_by_number(env) -> None:
    ours = on_task(env, "boil", split="train", simplification=None)
    ours.reset(options={"variation": 0})  # starts in the hallway, which has several doors
    obs, *_ = ours.step("focus on door")
    assert obs.startswith("Ambiguous request") and "0:" in obs
    obs, reward, terminated, *_ = ours.step("0")
    assert obs.startswith("You focus on the door") and terminated


@pytest.mark.parametrize("task", QUICK_TASKS)
def test_gold_paths_win_through_gym_make(task: str) -> None:
    env = gym.make(f"ScienceWorld/{task}-v0", split="test", simplification="easy")
    try:
        for variation in env.unwrapped.variations()[:2]:
            env.reset(options={"variation": variation})
            for action in env.unwrapped.gold_path():
                obs, reward, terminated, truncated, info = env.step(action)
                if terminated or truncated:
                    break
            assert terminated and info["won"] and info["score"] == 100
    finally:
        env.close()


@pytest.mark.slow
@pytest.mark.parametrize("task", list(TASKS))
def test_gold_paths_win_on_every_task(env, task: str) -> None:
    ours = on_task(env, task)
    for variation in ours.variations()[:3]:
        ours.reset(options={"variation": variation})
        for action in ours.gold_path():
            obs, reward, terminated, truncated, info = ours.step(action)
            if terminated:
                break
        assert info["won"] and info["score"] == 100, (task, variation)


def test_gold_path_is_cached_and_does_not_disturb_the_episode(env) -> None:
    ours = on_task(env, "chemistry-mix-paint-secondary-color")
    ours.reset(options={"variation": ours.variations()[1]})
    ours.step("look around")
    ours.step("open door to hallway")
    before = (ours.look(), ours.inventory(), ours.actions_taken)
    gold = ours.gold_path()
    assert (ours.look(), ours.inventory(), ours.actions_taken) == before
    cache_file = ours._gold_cache_path(ours.variation)
    assert cache_file.is_file() and "scienceworld-1.2.3" in str(cache_file)
    cache_file.write_text("{not json")  # a corrupt entry is recomputed
    assert ours.gold_path() == gold
    assert ours.gold_path(variation=ours.variations("train")[0])  # any split, on request


def test_subgoals_and_extra_info(env) -> None:
    ours = on_task(env, "boil", extra_info=("look", "inventory", "subgoals"))
    obs, info = ours.reset(options={"variation": 21})
    goals = ours.subgoals()
    assert goals[0].description == "focus on substance" and goals[0].sequential and not goals[0].done
    assert any(not goal.sequential for goal in goals)
    assert info["look"] == ours.look() and "inventory" in info["inventory"].lower()
    assert info["subgoals"][0] == goals[0].to_dict()
    assert "gold_path" not in info


def test_admissible_commands_are_opt_in_sorted_and_cached(env) -> None:
    ours = on_task(env, "find-plant", admissible_commands=True)
    obs, info = ours.reset(options={"variation": ours.variations()[0]})
    commands = info["admissible_commands"]
    assert commands == sorted(set(commands)) and "look around" in commands
    plain = on_task(env, "find-plant")
    obs, info = plain.reset(options={"variation": plain.variations()[0]})
    assert "admissible_commands" not in info


def test_truncation_counts_agent_commands_not_simulator_moves() -> None:
    env = gym.make("ScienceWorld/find-plant-v0", max_episode_steps=3)
    try:
        env.reset(seed=0)
        results = [env.step("look around") for _ in range(3)]
        assert [r[3] for r in results] == [False, False, True]
        assert results[-1][4]["moves"] == 0  # "look around" takes no simulator time
    finally:
        env.close()


def test_seeded_variation_draw_and_fixed_variation() -> None:
    env = gym.make("ScienceWorld/find-animal-v0", split="dev")
    fixed = gym.make("ScienceWorld/find-animal-v0", split="dev", variation=160)
    try:
        first = [env.reset(seed=11)[1]["variation"] for _ in range(2)]
        drawn = [env.reset()[1]["variation"] for _ in range(5)]
        assert first[0] == first[1] and all(v in env.unwrapped.variations() for v in drawn)
        assert len(set(drawn)) > 1
        assert fixed.reset(seed=1)[1]["variation"] == fixed.reset(seed=2)[1]["variation"] == 160
    finally:
        env.close()
        fixed.close()


def test_render_modes(env, capsys) -> None:
    ours = on_task(env, "find-plant", render_mode="ansi")
    obs, info = ours.reset(options={"variation": ours.variations()[0]})
    assert ours.render().startswith(obs) and "score" in ours.render()
    human = on_task(env, "find-plant", render_mode="human")
    human.reset(options={"variation": human.variations()[0]})
    assert human.render() is None and "score" in capsys.readouterr().out
    with pytest.raises(ValueError, match="render_mode"):
        ScienceWorldEnv("find-plant", render_mode="rgb_array")


def test_unknown_ids_and_bad_settings_are_clear_errors() -> None:
    with pytest.raises(gym.error.Error, match="boil"):
        gym.make("ScienceWorld/boyl-v0")
    with pytest.raises(ValueError, match="Did you mean 'boil'"):
        ScienceWorldEnv("boyl")
    assert ScienceWorldEnv("1-1").task == "boil"
    with pytest.raises(ValueError, match=r"Unknown simplification 'eazy'\. Did you mean 'easy'"):
        ScienceWorldEnv("boil", simplification="eazy")
    with pytest.raises(ValueError, match="needs electrical actions"):
        ScienceWorldEnv("power-component", simplification="noElectricalAction")
    assert ScienceWorldEnv("boil", simplification=["openDoors", "teleportAction"]).simplification == \
        "openDoors,teleportAction"
    with pytest.raises(ValueError, match=r"by split: train 0-13, dev 14-20, test 21-29"):
        ScienceWorldEnv("boil", variation=30)
    with pytest.raises(ValueError, match="belongs to the 'train' split"):
        ScienceWorldEnv("boil", split="test", variation=3)
    with pytest.raises(TypeError, match="integer"):
        ScienceWorldEnv("boil", variation="3")
    with pytest.raises(gym.error.ResetNeeded):
        ScienceWorldEnv("boil").admissible_commands()


def test_jvm_has_a_capped_heap_and_deterministic_hashes() -> None:
    env = ScienceWorldEnv("find-plant", jvm_heap="300m")
    try:
        env.reset(seed=0)
        with open(f"/proc/{env.pid}/cmdline") as handle:
            command = handle.read().split("\0")
        assert "-Xmx300m" in command and "-XX:hashCode=2" in command
    finally:
        env.close()
    assert env.pid is None


def test_killed_jvm_is_a_clear_error_and_reset_recovers() -> None:
    env = ScienceWorldEnv("find-plant", split="test")
    try:
        env.reset(seed=0)
        pid = env.pid
        os.kill(pid, signal.SIGKILL)
        assert wait_until_dead(pid)
        with pytest.raises(textgym.SimulatorCrashedError, match=r"exited .*Call reset"):
            env.step("look around")
        with pytest.raises(textgym.SimulatorCrashedError):
            env.step("look around")
        obs, info = env.reset(seed=0)
        assert env.pid != pid and "called" in obs
        env.step("look around")
    finally:
        env.close()


def test_missing_java_says_what_to_install(monkeypatch) -> None:
    monkeypatch.setenv("PATH", "/nonexistent")
    monkeypatch.delenv("JAVA_HOME", raising=False)
    env = ScienceWorldEnv("boil")
    with pytest.raises(textgym.JavaNotFoundError, match="openjdk"):
        env.reset(seed=0)
    env.close()


def test_no_orphan_jvm_when_python_is_killed(tmp_path) -> None:
    script = textwrap.dedent("""
        import sys, time, gymnasium as gym, textgym
        env = gym.make("ScienceWorld/find-plant-v0")
        env.reset(seed=0)
        print(env.unwrapped.pid, flush=True)
        time.sleep(600)
    """)
    process = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True,
                               env={**os.environ, "TEXTGYM_CACHE_DIR": str(tmp_path)})
    try:
        jvm_pid = int(process.stdout.readline())
        assert pid_alive(jvm_pid) and jvm_pid in children(process.pid)
    finally:
        process.kill()  # SIGKILL: no Python cleanup runs
        process.wait()
    assert wait_until_dead(jvm_pid), "the JVM outlived its killed parent"


@pytest.mark.parametrize("heap", ["lots", "", "512", "1.5g", "-1g", 512, "10m"])
def test_bad_jvm_heap_is_a_clear_error_before_any_jvm_starts(heap) -> None:
    before = children(os.getpid())
    with pytest.raises(ValueError, match=r"jvm_heap must be a size such as '512m'"):
        gym.make("ScienceWorld/boil-v0", jvm_heap=heap)
    assert children(os.getpid()) == before


def test_jvm_that_fails_to_start_shows_its_own_error(monkeypatch) -> None:
    monkeypatch.setenv(jvm.JAVA_OPTS_VARIABLE, "-XX:+NoSuchTextgymOption")
    env = ScienceWorldEnv("boil")
    with pytest.raises(textgym.SimulatorCrashedError,
                       match=r"JVM failed to start: .*Unrecognized VM option 'NoSuchTextgymOption'"):
        env.reset(seed=0)
    env.close()
    assert env.pid is None
