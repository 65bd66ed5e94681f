"""TextWorldExpress family: the same game as the stock library, parameters, seeds, bad input.

The registry-wide contract (check_env, determinism, gold paths, vectorisation, processes) is in
test_contract.py; this file checks what is specific to TextWorldExpress against the real
simulator: the stock `textworld_express.TextWorldExpressEnv` is the reference.
"""

from __future__ import annotations

import gymnasium as gym
import pytest
from textworld_express import TextWorldExpressEnv as StockEnv

from textgym.envs.textworld_express import GAMES, SEEDS, TextWorldExpressEnv, resolve_parameters, split_of

# Non-default parameters for the games that have any, so the comparison covers them too.
PARAMETERS = {"cookingworld": {"num_locations": 3, "num_ingredients": 2, "num_distractor_items": 2,
                               "include_doors": False},
              "twc": {"num_locations": 2, "num_items_to_put_away": 2, "include_doors": True},
              "coin": {"num_locations": 5, "num_distractor_items": 3, "limit_inventory_size": False},
              "mapreader": {"num_locations": 8, "max_distance_apart": 3},
              "simonsays": {"game_length": 7, "num_distractors": 2, "memorization": True}}


@pytest.fixture(scope="module")
def stock():
    env = StockEnv(envStepLimit=10**6)
    yield env
    env.close()


def library_string(game: str, parameters: dict) -> str:
    return ",".join(f"{name}={value}" for name, value in resolve_parameters(game, parameters).items())


def test_seeds_games_and_defaults_match_the_library(stock) -> None:
    assert stock.getValidSeedsTrain() == list(SEEDS["train"])
    assert stock.getValidSeedsDev() == list(SEEDS["dev"])
    assert stock.getValidSeedsTest() == list(SEEDS["test"])
    assert stock.getGameNames() == list(GAMES)
    for game in GAMES:
        stock.load(game, "")
        stock.reset(seed=0, gameFold="train")
        properties = stock.getGenerationProperties()  # simonsays does not report its two flags
        defaults = {name: value for name, value in resolve_parameters(game, {}).items() if name in properties}
        assert defaults == {name: properties[name] for name in defaults}
        assert len(defaults) >= len(GAMES[game]) - 2


@pytest.mark.parametrize("game", [game for game in GAMES if GAMES[game]])
def test_parameter_ranges_match_the_library(stock, game: str) -> None:
    for key, parameter in GAMES[game].items():
        if parameter.is_flag:  # the library reads any integer as a flag (1 = on)
            continue
        for value in (parameter.low, parameter.high):
            stock.load(game, f"{parameter.name}={value}")
            resolve_parameters(game, {key: value})
        with pytest.raises(ValueError):
            stock.load(game, f"{parameter.name}={parameter.high + 1}")
        with pytest.raises(ValueError, match=r"must be an integer in"):
            resolve_parameters(game, {key: parameter.high + 1})
        if (game, key) != ("twc", "num_items_to_put_away"):  # the library takes 0 but makes no gold path
            with pytest.raises(ValueError):
                stock.load(game, f"{parameter.name}={parameter.low - 1}")
        with pytest.raises(ValueError, match=r"must be an integer in"):
            resolve_parameters(game, {key: parameter.low - 1})


@pytest.mark.parametrize("game", list(GAMES))
def test_same_observations_scores_and_commands_as_the_library(stock, game: str) -> None:
    parameters = PARAMETERS.get(game, {})
    seed = 20000 + len(game)  # a test game: the fold must follow the seed
    stock.load(game, library_string(game, parameters))
    expected_obs, expected = stock.reset(seed=seed, gameFold="test", generateGoldPath=True)
    actions = ["xyzzy", *stock.getGoldActionSequence()]
    env = gym.make(f"TextWorldExpress/{game}-v0", split="test", admissible_commands=True,
                   extra_info=("look", "inventory"), **parameters)
    try:
        obs, info = env.reset(options={"variation": seed})
        terminated, steps = False, 0
        for action in [None, *actions]:
            if terminated:  # the gold agent may keep going after the win
                break
            if action is not None:
                expected_obs, expected_reward, done, expected = stock.step(action)
                obs, reward, terminated, _, info = env.step(action)
                steps += 1
                assert reward == pytest.approx(expected_reward)
                assert terminated == done
            assert obs == expected_obs
            assert info["task"] == expected["taskDescription"]
            assert info["score"] == expected["score"]
            assert (info["won"], info["lost"]) == (expected["tasksuccess"], expected["taskfailure"])
            assert info["admissible_commands"] == sorted(set(expected["validActions"]))
            assert (info["look"], info["inventory"]) == (expected["look"], expected["inventory"])
        assert terminated and info["won"] and info["moves"] == steps
    finally:
        env.close()


def test_a_lost_game_terminates_with_the_score_delta() -> None:
    env = TextWorldExpressEnv("sorting")
    try:
        env.reset(options={"variation": 7})
        first, second = (action.removeprefix("take ") for action in env.gold_path()[::2][:2])
        env.step(f"take {second}")
        _, reward, terminated, _, info = env.step(f"put {second} in box")  # out of order
        assert terminated and info["lost"] and not info["won"]
        assert info["score"] <= 0 and reward == info["score"]
        with pytest.raises(gym.error.ResetNeeded, match="episode is over"):
            env.step(f"put {first} in box")
    finally:
        env.close()


def test_extras_on_demand_and_gold_path_leaves_the_episode_alone() -> None:
    env = TextWorldExpressEnv("coin", num_locations=4)
    try:
        _, info = env.reset(options={"variation": 3})
        assert "admissible_commands" not in info and "look" not in info
        first = env.gold_path()[1]
        env.step(first)
        env.gold_path(10003)  # another game, generated on the same JVM
        assert env.actions_taken == [first]
        replay = TextWorldExpressEnv("coin", num_locations=4, admissible_commands=True)
        try:
            replay.reset(options={"variation": 3})
            # The library's coin and twc gold agents walk at random, unseeded; the cache keeps the first.
            assert replay.gold_path() == env.gold_path()
            replay.step(first)
            assert env.admissible_commands() == replay.admissible_commands()
            assert env.step("look around")[0] == replay.step("look around")[0]
            assert env.look() == replay.look() and env.inventory() == replay.inventory()
        finally:
            replay.close()
        assert env.subgoals() == []
    finally:
        env.close()


def test_splits_are_the_library_seeds() -> None:
    env = TextWorldExpressEnv("arithmetic", split="dev")
    assert env.variations() == list(range(10000, 11000))
    assert split_of(20999) == "test" and split_of(0) == "train"
    with pytest.raises(ValueError, match=r"belongs to the 'train' split"):
        env.reset(options={"variation": 5})


def test_bad_input_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match=r"Unknown TextWorldExpress game 'cookingwrld'.*'cookingworld'"):
        gym.make("TextWorldExpress/cookingworld-v0", game="cookingwrld")
    with pytest.raises(TypeError, match=r"no parameter 'numLocations'.*num_locations"):
        TextWorldExpressEnv("coin", numLocations=3)
    with pytest.raises(TypeError, match=r"'sorting' has no parameter 'num_locations'.*none"):
        TextWorldExpressEnv("sorting", num_locations=3)
    with pytest.raises(ValueError, match=r"num_locations .* integer in \[1, 11\].*got 12"):
        TextWorldExpressEnv("coin", num_locations=12)
    with pytest.raises(ValueError, match=r"integer in \[1, 11\].*got True"):
        TextWorldExpressEnv("coin", num_locations=True)
    with pytest.raises(ValueError, match=r"include_doors .* flag \(True or False\).*got 2"):
        TextWorldExpressEnv("coin", include_doors=2)
    with pytest.raises(ValueError, match=r"integer in \[1, 1000\].*got '5'"):
        TextWorldExpressEnv("simonsays", game_length="5")
