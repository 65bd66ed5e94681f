"""Sub-goal wrappers on the real simulators: ScienceWorld (one shared JVM) and TextWorld's quests."""

from __future__ import annotations

import gymnasium as gym
import pytest
from gymnasium.utils.env_checker import check_env

import textgym  # noqa: F401 - registers the envs
from textgym.data.annotate import annotated_records, progress_segments
from textgym.data.gold import replay_gold
from textgym.wrappers import SubgoalConditioned, SubgoalProgress, SubgoalTarget, targets_from_records

ENV_ID = "ScienceWorld/find-living-thing-v0"


@pytest.fixture(scope="module")
def env():
    env = gym.make(ENV_ID)
    yield env
    env.close()


@pytest.fixture(scope="module")
def gold(env):
    """Gold records of variations 0 and 1 (sub-goal progress per step, from the simulator)."""
    return {v: replay_gold(env.unwrapped, ENV_ID, v) for v in (0, 1)}


def test_progress_reports_each_completion_once_with_the_simulator_reward(env, gold):
    wrapped = SubgoalProgress(env)
    observation, info = wrapped.reset(options={"variation": 0})
    assert observation.startswith("This ")
    assert info["subgoals_completed"] == []
    assert {g["description"] for g in info["subgoals"]} >= {"focus on a living thing"}
    completed = []
    for record in gold[0]:
        observation, reward, terminated, _truncated, info = wrapped.step(record["action"])
        assert info["subgoals_completed"] == record["subgoals_completed"]
        assert reward == record["reward"]  # no bonus by default
        assert info["subgoals"] == [g.to_dict() for g in env.unwrapped.subgoals()]
        completed += info["subgoals_completed"]
    assert terminated and info["won"]
    assert len(completed) == len(set(completed)) >= 4
    assert "focus on a living thing" in completed


def test_progress_bonus_shapes_the_reward_per_first_completion(env, gold):
    wrapped = SubgoalProgress(env, bonus=5.0)
    wrapped.reset(options={"variation": 1})
    for record in gold[1]:
        _, reward, _, _, _info = wrapped.step(record["action"])
        assert reward == record["reward"] + 5.0 * len(record["subgoals_completed"])


def test_progress_reuses_subgoals_the_env_already_computed():
    env = gym.make(ENV_ID, extra_info=("subgoals",))
    try:
        wrapped = SubgoalProgress(env)
        calls = []
        original = wrapped.textenv.subgoals
        wrapped.textenv.subgoals = lambda: calls.append(1) or original()
        _, info = wrapped.reset(options={"variation": 0})
        _, _, _, _, info = wrapped.step("go to greenhouse")
        assert info["subgoals_completed"] == ["Move to a new location"]
        assert calls == []
    finally:
        env.close()


def test_conditioned_follows_a_fixed_sequence_judged_by_the_simulator(env, gold):
    sequence = ["focus on a living thing", "move living thing to answer box"]
    wrapped = SubgoalConditioned(env, subgoals=sequence, bonus=1.0)
    observation, info = wrapped.reset(options={"variation": 0})
    assert observation.startswith("Sub-goal: focus on a living thing\nThis ")
    assert wrapped.observation_space.contains(observation)
    achieved = []
    for record in gold[0]:
        observation, reward, _terminated, _truncated, info = wrapped.step(record["action"])
        assert wrapped.observation_space.contains(observation)
        if info["subgoal_achieved"]:
            achieved.append((record["action"], info["subgoal_achieved"]))
            assert reward == record["reward"] + 1.0
        else:
            assert reward == record["reward"]
    focus = next(r["action"] for r in gold[0] if r["action"].startswith("focus on"))
    assert achieved == [(focus, sequence[0]), (gold[0][-1]["action"], sequence[1])]
    assert info["subgoal"] is None and observation.startswith("Sub-goal: none\n")


def test_conditioned_replays_annotated_boundaries_exactly(env, gold):
    """Replaying the gold commands under targets from annotated data reports an achievement on
    exactly the steps marked end_of_subgoal."""
    for variation, steps in gold.items():
        records = annotated_records(steps, progress_segments(steps), "progress")
        targets = targets_from_records(records)
        assert [t.judged_by for t in targets] == ["boundary"] * len(targets)
        wrapped = SubgoalConditioned(env)
        _, info = wrapped.reset(options={"variation": variation, "subgoals": targets})
        assert info["subgoal"] == records[0]["subgoal"]
        for record in records:
            _observation, _, _, _, info = wrapped.step(record["action"])
            assert bool(info["subgoal_achieved"]) == record["end_of_subgoal"], (variation, record["step"])
            if record["end_of_subgoal"]:
                assert info["subgoal_achieved"] == record["subgoal"]


def test_conditioned_asks_the_planner_at_reset_and_after_each_achievement(env):
    asked = []

    def planner(observation, info):
        asked.append(info["score"])
        return ["focus on a living thing", "navigate_to(kitchen)", None][len(asked) - 1]

    wrapped = SubgoalConditioned(env, subgoals=planner)
    _, info = wrapped.reset(options={"variation": 0})
    assert info["subgoal_judged_by"] == "simulator" and len(asked) == 1
    for action in ("go to greenhouse", "go to outside", "focus on dove"):
        _, _, _, _, info = wrapped.step(action)
    assert info["subgoal_achieved"] == "focus on a living thing"
    assert info["subgoal"] == "navigate_to(kitchen)" and info["subgoal_judged_by"] == "caller"
    for action in ("pick up dove", "go to kitchen"):  # a caller-judged sub-goal never ends by itself
        _, _, _, _, info = wrapped.step(action)
        assert info["subgoal_achieved"] is None
    wrapped.set_subgoal(SubgoalTarget("look twice", end_action="look around", end_count=2))
    _, _, _, _, info = wrapped.step("look around")
    assert info["subgoal_achieved"] is None
    observation, _, terminated, _, info = wrapped.step("look  around")
    assert info["subgoal_achieved"] == "look twice" and len(asked) == 3 and not terminated
    assert info["subgoal"] is None and observation.startswith("Sub-goal: none\n")  # the planner said None


def test_conditioned_can_end_the_episode_with_the_option(env):
    wrapped = SubgoalConditioned(env, subgoals=["Move to a new location"], terminate_on_achieved=True)
    wrapped.reset(options={"variation": 0})
    _, _, terminated, truncated, info = wrapped.step("look around")
    assert not terminated
    _, _, terminated, truncated, info = wrapped.step("go to greenhouse")
    assert terminated and not truncated and info["subgoal_achieved"] == "Move to a new location"
    assert not info["won"]


def test_conditioned_passes_gymnasiums_env_checker_and_is_recreated_from_its_spec(env):
    wrapped = SubgoalConditioned(env, subgoals=["focus on a living thing"], bonus=2.0)
    with pytest.warns(UserWarning, match="different from the unwrapped"):
        check_env(wrapped, skip_render_check=True)
    assert wrapped.spec.additional_wrappers[-1].kwargs["bonus"] == 2.0


def test_bad_inputs_get_clear_errors(env):
    with pytest.raises(TypeError, match="sequence of sub-goals"):
        SubgoalConditioned(env, subgoals="focus on a living thing")
    fresh = gym.make(ENV_ID)
    try:
        with pytest.raises(gym.error.ResetNeeded, match="reset"):
            SubgoalConditioned(fresh).set_subgoal("x")
    finally:
        fresh.close()
    wrapped = SubgoalConditioned(env)
    wrapped.reset(options={"variation": 0})
    with pytest.raises(ValueError, match="not sub-goals of this episode"):
        wrapped.set_subgoal(SubgoalTarget("boil", native=("boil the water",)))
    with pytest.raises(TypeError, match="str or a SubgoalTarget"):
        wrapped.set_subgoal(3)
    with pytest.raises(ValueError, match="non-empty text"):
        SubgoalTarget("  ")
    with pytest.raises(ValueError, match="end_count"):
        SubgoalTarget("x", end_action="look around", end_count=0)
    with pytest.raises(ValueError, match="Unknown reset options"):
        wrapped.reset(options={"variation": 0, "subgoal": "typo"})
    with pytest.raises(ValueError, match="annotated steps"):
        targets_from_records([{"step": 0, "action": "look around"}])
    with pytest.raises(TypeError, match="textgym env"):
        SubgoalProgress(gym.make("CartPole-v1"))


def test_families_without_subgoals_are_refused():
    env = gym.make("TextWorldExpress/coin-v0")  # TextWorldExpress reports no progress
    try:
        with pytest.raises(ValueError, match="tracks no sub-goals"):
            SubgoalProgress(env)
        with pytest.raises(ValueError, match="tracks no sub-goals"):
            SubgoalConditioned(env)
    finally:
        env.close()


def test_textworld_quests_are_reported_and_judged():
    env = gym.make("TextWorld/coin_collector-v0")
    try:
        wrapped = SubgoalConditioned(SubgoalProgress(env))
        _, info = wrapped.reset(seed=0)
        quests = [goal["description"] for goal in info["subgoals"]]
        assert quests and not any(goal["done"] for goal in info["subgoals"])
        wrapped.set_subgoal(quests[0])
        assert wrapped.current.judged_by == "simulator"
        completed = []
        for action in env.unwrapped.gold_path():
            _observation, _reward, terminated, _truncated, info = wrapped.step(action)
            completed += info["subgoals_completed"]
        assert terminated and info["won"]
        assert completed == quests[:1] and info["subgoal_achieved"] == quests[0]
    finally:
        env.close()
