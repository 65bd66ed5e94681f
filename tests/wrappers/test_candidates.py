"""`CandidateActions`: Discrete(K) over admissible commands, its masks and its cap policy, on the real
simulators (ScienceWorld has hundreds of admissible commands per state, so K < n is exercised;
TextWorldExpress coin has a handful, so K > n and the padding are)."""

from __future__ import annotations

import collections

import gymnasium as gym
import numpy as np
import pytest

import textgym  # noqa: F401 - registers the envs
from textgym.wrappers import CandidateActions, select_candidates

SCIENCEWORLD = "ScienceWorld/find-living-thing-v0"
COIN = "TextWorldExpress/coin-v0"


@pytest.fixture(scope="module")
def science() -> CandidateActions:
    env = CandidateActions(gym.make(SCIENCEWORLD, simplification="easy"), max_candidates=24)
    yield env
    env.close()


@pytest.fixture(scope="module")
def coin() -> CandidateActions:
    env = CandidateActions(gym.make(COIN, max_episode_steps=10), max_candidates=32)
    yield env
    env.close()


def check_state(env: CandidateActions, info: dict) -> list[str]:
    """The published candidates are admissible, at most K, and every mask agrees with them."""
    admissible = env.unwrapped.admissible_commands()
    candidates = info["candidates"]
    assert 0 < len(candidates) <= env.max_candidates
    assert set(candidates) <= set(admissible)
    assert candidates == [c for c in admissible if c in set(candidates)]  # env order kept
    assert info["action_mask"].dtype == np.int8 and info["action_mask"].shape == (env.max_candidates,)
    np.testing.assert_array_equal(info["action_mask"], env.action_masks())
    assert info["action_mask"].sum() == len(candidates) and info["action_mask"][: len(candidates)].all()
    return admissible


@pytest.mark.parametrize("name", ["science", "coin"])
def test_masked_actions_are_always_admissible(name: str, request: pytest.FixtureRequest) -> None:
    env = request.getfixturevalue(name)
    assert env.action_space == gym.spaces.Discrete(env.max_candidates)
    _, info = env.reset(seed=1)
    for _ in range(12):
        admissible = check_state(env, info)
        action = env.action_space.sample(mask=info["action_mask"])
        _, _, terminated, truncated, info = env.step(action)
        assert info["command"] in admissible
        if terminated or truncated:
            assert info["candidates"] == [] and not info["action_mask"].any()
            _, info = env.reset()


def test_cap_keeps_every_verb(science: CandidateActions) -> None:
    _, info = science.reset(seed=0)
    admissible = science.unwrapped.admissible_commands()
    verbs = {command.split()[0] for command in admissible}
    assert len(admissible) > science.max_candidates >= len(verbs)
    assert {command.split()[0] for command in info["candidates"]} == verbs


def test_seeded_reset_repeats_the_candidates(science: CandidateActions) -> None:
    lists = []
    for _ in range(2):
        _, info = science.reset(seed=7)
        _, _, _, _, step_info = science.step(0)
        lists.append((info["candidates"], step_info["candidates"]))
    assert lists[0] == lists[1]
    _, other = science.reset(seed=8)
    assert other["candidates"] != lists[0][0]


def test_index_past_the_candidates_wraps_around(coin: CandidateActions) -> None:
    _, info = coin.reset(seed=0)
    n = len(info["candidates"])
    assert n < coin.max_candidates
    _, _, _, _, after = coin.step(coin.max_candidates - 1)
    assert after["command"] == info["candidates"][(coin.max_candidates - 1) % n]


def test_lost_episode_has_nothing_to_choose(science: CandidateActions) -> None:
    # "focus on agent" loses find-living-thing; pick it by index in a state that offers it
    for seed in range(20):
        _, info = science.reset(seed=seed)
        if "focus on agent" in info["candidates"]:
            break
    _, _, terminated, _, info = science.step(info["candidates"].index("focus on agent"))
    assert terminated and info["lost"]
    assert info["candidates"] == [] and not science.action_masks().any()
    with pytest.raises(gym.error.ResetNeeded):
        science.step(0)


def test_select_candidates_spreads_over_first_words() -> None:
    commands = sorted([f"pour cup {i} in pot" for i in range(200)] + [f"move thing {i}" for i in range(50)]
                      + ["go to kitchen", "focus on water", "open door"])
    picked = select_candidates(commands, 10, np.random.default_rng(0))
    assert len(picked) == 10 and len(set(picked)) == 10
    assert picked == sorted(picked)
    counts = collections.Counter(command.split()[0] for command in picked)
    assert {"go", "focus", "open", "pour", "move"} <= set(counts)
    assert max(counts.values()) - min(counts.values()) <= 3  # pour/move share what is left evenly
    assert picked == select_candidates(commands, 10, np.random.default_rng(0))
    assert select_candidates(commands[:5], 10, np.random.default_rng(0)) == commands[:5]


@pytest.mark.parametrize("bad", [0, -3, 2.5, True, "8", None])
def test_bad_k_is_a_clear_error(coin: CandidateActions, bad: object) -> None:
    with pytest.raises(ValueError, match="max_candidates"):
        CandidateActions(coin.env, max_candidates=bad)


def test_non_textgym_env_is_rejected() -> None:
    with pytest.raises(TypeError, match="textgym"):
        CandidateActions(gym.make("CartPole-v1"))


@pytest.mark.parametrize("bad", [-1, 32, 1.0, "go north", np.array([1, 2]), True])
def test_bad_action_is_a_clear_error(coin: CandidateActions, bad: object) -> None:
    coin.reset(seed=0)
    with pytest.raises(ValueError, match=r"Discrete\(32\)"):
        coin.step(bad)
