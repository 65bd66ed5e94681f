"""The environment contract, checked on every registered id of every family (MiniGrid style).

The fast suite runs one quick id per family; `pytest -m slow` runs every id. Jericho ids play story
files: `Jericho/custom-v0` a game made by TextWorld's generator, the named games the user's own
files (in `$TEXTGYM_JERICHO_GAMES`), and they are skipped without them (not redistributable).
"""

from __future__ import annotations

import pickle

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import textgym
from tests.helpers import children, textworld_story, wait_until_dead
from textgym.envs.jericho import JerichoGameNotFoundError, find_story_file

INFO_KEYS = {"task", "score", "max_score", "moves", "won", "lost", "variation"}
GOLD_STEPS = 500  # episode limit of the shared envs: some gold paths are longer than the default 100
FAST_IDS = {"ScienceWorld/find-non-living-thing-v0", "Jericho/custom-v0"}
for _family in ("TextWorldExpress", "TextWorld"):
    FAST_IDS.update(textgym.registered_ids(_family)[:1])
ALL_IDS = textgym.registered_ids()
PARAMS = [pytest.param(env_id, marks=() if env_id in FAST_IDS else pytest.mark.slow) for env_id in ALL_IDS]


def make_kwargs(env_id: str) -> dict:
    """What an id needs besides its registration: Jericho ids need a story file."""
    if env_id == "Jericho/custom-v0":
        return {"game_file": str(textworld_story("coin_collector", seed=1))}
    if env_id.startswith("Jericho/"):
        game = env_id.removeprefix("Jericho/").removesuffix("-v0")
        try:
            find_story_file(game)
        except JerichoGameNotFoundError:
            pytest.skip(f"{game}'s story file is not redistributable; set TEXTGYM_JERICHO_GAMES to run it")
    return {}


@pytest.fixture(scope="module")
def envs():
    """One env per id for the whole module (a JVM each), closed at the end."""
    made: dict[str, gym.Env] = {}

    def get(env_id: str) -> gym.Env:
        if env_id not in made:
            made[env_id] = gym.make(env_id, admissible_commands=True, max_episode_steps=GOLD_STEPS,
                                    **make_kwargs(env_id))
        return made[env_id]

    yield get
    for env in made.values():
        env.close()


def rollout(env: gym.Env, seed: int, steps: int = 6) -> list:
    """Seeded random admissible commands: the trajectory as (obs, reward, terminated, info) tuples."""
    rng = np.random.default_rng(seed)
    obs, info = env.reset(seed=seed)
    trajectory = [(obs, info)]
    for _ in range(steps):
        action = info["admissible_commands"][rng.integers(len(info["admissible_commands"]))]
        obs, reward, terminated, truncated, info = env.step(action)
        trajectory.append((action, obs, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return trajectory


@pytest.mark.parametrize("env_id", PARAMS)
def test_check_env_passes(env_id: str) -> None:
    env = gym.make(env_id, disable_env_checker=True, **make_kwargs(env_id))
    try:
        check_env(env.unwrapped)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", PARAMS)
def test_gold_path_wins(envs, env_id: str) -> None:
    env = envs(env_id)
    obs, info = env.reset(seed=1)
    assert env.observation_space.contains(obs)
    assert set(info) >= INFO_KEYS
    terminated = False
    for action in env.unwrapped.gold_path():
        obs, reward, terminated, truncated, info = env.step(action)
        assert env.observation_space.contains(obs) and isinstance(reward, float)
        assert INFO_KEYS | {"admissible_commands"} <= set(info)
        if terminated or truncated:
            break
    assert terminated and info["won"] and not info["lost"]
    assert info["score"] == info["max_score"]


@pytest.mark.parametrize("env_id", PARAMS)
def test_same_seed_same_trajectory(envs, env_id: str) -> None:
    env = envs(env_id)
    first = rollout(env, seed=3)
    assert rollout(env, seed=3) == first  # same JVM
    other = gym.make(env_id, admissible_commands=True, **make_kwargs(env_id))
    try:
        assert rollout(other, seed=3) == first  # a fresh JVM
    finally:
        other.close()


@pytest.mark.parametrize("env_id", sorted(FAST_IDS))
def test_bad_input_is_a_clear_error(envs, env_id: str) -> None:
    env = envs(env_id)
    env.reset(seed=0)
    with pytest.raises(TypeError, match="text commands"):
        env.step(42)
    with pytest.raises(ValueError, match="Empty action"):
        env.step("")
    with pytest.raises(ValueError, match="at most"):
        env.step("look " * 200)
    with pytest.raises(ValueError, match="printable ASCII"):
        env.step("prendre la clé")
    for two_commands in ("look around\nreset task", "look around\r\nquit", "look\taround", "look\x00"):
        with pytest.raises(ValueError, match="newline or other control character"):
            env.step(two_commands)
    assert env.unwrapped.actions_taken == []  # none of the bad commands reached the simulator
    assert not env.action_space.contains("look around\nreset task")
    with pytest.raises(ValueError, match="not in the 'train' split"):
        env.reset(options={"variation": 10**6})
    with pytest.raises(ValueError, match="Unknown reset options"):
        env.reset(options={"varation": 0})
    with pytest.raises(ValueError, match="Unknown split"):
        gym.make(env_id, split="validation", **make_kwargs(env_id))
    env.reset(seed=0)
    obs, *_ = env.step("xyzzy plugh")  # an unknown command is the simulator's business, not an error
    assert isinstance(obs, str)


@pytest.mark.parametrize("env_id", sorted(FAST_IDS))
def test_async_vector_env_returns_real_observations(env_id: str) -> None:
    single = gym.make(env_id, **make_kwargs(env_id))
    expected = [single.reset(seed=5 + i)[0] for i in range(2)]
    single.close()
    vector = gym.make_vec(env_id, num_envs=2, vectorization_mode="async",  # Gymnasium's default shared memory
                          **make_kwargs(env_id))
    try:
        observations, infos = vector.reset(seed=5)
        assert list(observations) == expected
        observations, rewards, terminated, truncated, infos = vector.step(("look around", "look around"))
        assert all(isinstance(o, str) and o and set(o) != {"0"} for o in observations)
        workers = [process.pid for process in vector.processes]
    finally:
        vector.close()
    assert all(wait_until_dead(pid) for pid in workers)


@pytest.mark.parametrize("env_id", sorted(FAST_IDS))
def test_close_leaves_no_process_and_is_idempotent(env_id: str) -> None:
    kwargs = make_kwargs(env_id)
    before = children()
    env = gym.make(env_id, **kwargs)
    env.reset(seed=0)
    env.step("look around")
    started = children() - before
    env.close()
    env.close()
    assert all(wait_until_dead(pid) for pid in started)
    env.reset(seed=0)  # a closed env comes back to life on reset
    env.close()


@pytest.mark.parametrize("env_id", sorted(FAST_IDS))
def test_spec_pickles_and_serialises(env_id: str) -> None:
    spec = gym.spec(env_id)
    assert pickle.loads(pickle.dumps(spec)) == spec
    assert gym.envs.registration.EnvSpec.from_json(spec.to_json()) == spec
    assert spec.max_episode_steps == 100
