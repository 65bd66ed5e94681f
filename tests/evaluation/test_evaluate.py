"""The evaluation loop: protocols, seeds, scoring, batching, and agents that are plain objects."""

from __future__ import annotations

import pytest

from textgym.agents import OracleAgent, RandomAgent, load_agent
from textgym.evaluation.evaluate import EpisodeSpec, episode_seed, evaluate, protocol_episodes, summarize
from textgym.evaluation.protocols import PROTOCOLS, get_protocol

SHORT = "ScienceWorld/lifespan-longest-lived-v0"
BOIL = "ScienceWorld/boil-v0"


def specs(env_id: str, variations: list[int], max_steps: int = 20) -> list[EpisodeSpec]:
    kwargs = {"split": "test", "simplification": "easy"}
    return [EpisodeSpec(env_id, v, episode_seed(env_id, v), max_steps, kwargs) for v in variations]


def test_protocols_name_their_episodes() -> None:
    quick = protocol_episodes(PROTOCOLS["smoke"])
    assert len(quick) == 8 and {e.variation for e in quick if e.env_id == SHORT} == {93, 94}
    assert len(protocol_episodes(PROTOCOLS["quick"])) == 39  # 10 test variations a task, 9 on one
    easy_test = {"split": "test", "simplification": "easy"}
    assert all(e.make_kwargs == easy_test and e.max_steps == 100 for e in quick)
    assert protocol_episodes(PROTOCOLS["smoke"]) == quick  # the seeds are a function of the episode
    assert len(protocol_episodes(PROTOCOLS["paper"], [BOIL])) == 9  # boil has 9 test variations
    assert len(protocol_episodes(PROTOCOLS["swiftsage"], [BOIL])) == 3
    with pytest.raises(ValueError, match="Unknown protocol 'papr'"):
        get_protocol("papr")
    with pytest.raises(ValueError, match="not in protocol 'smoke'"):
        protocol_episodes(PROTOCOLS["smoke"], [BOIL])


def test_oracle_wins_and_results_keep_the_episode_order() -> None:
    episodes = specs(SHORT, [94, 93])
    results = evaluate(OracleAgent(), episodes, num_envs=2)
    assert [r.variation for r in results] == [94, 93]
    assert all(r.won and r.normalized == 100 and 1 <= r.steps <= 10 for r in results)


def test_results_do_not_depend_on_parallelism() -> None:
    episodes = specs(SHORT, [93, 94, 95], max_steps=8)
    one = evaluate(RandomAgent(), episodes, num_envs=1)
    three = evaluate(RandomAgent(), episodes, num_envs=3)
    assert [r.actions for r in one] == [r.actions for r in three]


def test_slots_spread_over_the_tasks_so_each_env_starts_once(monkeypatch) -> None:
    """Two slots, two tasks of three episodes: a slot per task (2 JVMs), not both slots on the first
    task and then both on the second (4 JVMs, and 4 slow first episodes)."""
    import textgym.evaluation.evaluate as loop

    made = []
    make = loop.gym.make
    monkeypatch.setattr(loop.gym, "make",
                        lambda env_id, **kwargs: made.append(env_id) or make(env_id, **kwargs))
    episodes = specs(SHORT, [93, 94, 95], max_steps=5) + specs(BOIL, [21, 22, 23], max_steps=5)
    two = evaluate(RandomAgent(), episodes, num_envs=2)
    assert sorted(made) == [BOIL, SHORT]
    assert [r.actions for r in two] == [r.actions for r in evaluate(RandomAgent(), episodes, num_envs=1)]


class FocusOnAir:
    """A plain policy (no Agent base class): focusing on air loses boil at once."""

    def __init__(self) -> None:
        self.resets = 0

    def reset(self) -> None:
        self.resets += 1

    def act(self, observation: str, info: dict) -> str:
        return "focus on air"


def test_plain_objects_are_agents_and_negative_scores_count_as_zero() -> None:
    policy = FocusOnAir()
    results = evaluate(policy, specs(BOIL, [21, 22]), num_envs=4)
    assert policy.resets == 2
    assert all(r.lost and r.score == -100 and r.normalized == 0 and r.steps == 1 for r in results)
    with pytest.raises(TypeError, match="act"):
        evaluate(object(), specs(BOIL, [21]))


def test_summary_averages_tasks_not_episodes() -> None:
    results = evaluate(OracleAgent(), specs(SHORT, [93]), num_envs=1)
    results += evaluate(FocusOnAir(), specs(BOIL, [21, 22]), num_envs=1)
    table = summarize(results)
    assert table[SHORT]["score"] == 100 and table[BOIL]["score"] == 0
    assert table["overall"]["score"] == 50 and table["overall"]["episodes"] == 3


def test_load_agent_errors_are_clear(tmp_path) -> None:
    with pytest.raises(FileNotFoundError, match="not a built-in agent"):
        load_agent("no-such-agent")
    with pytest.raises(ValueError, match="Cannot import module"):
        load_agent("no_such_module:Agent")
    with pytest.raises(FileNotFoundError, match=r"no agent\.json"):
        load_agent(tmp_path)
    (tmp_path / "agent.json").write_text("{broken")
    with pytest.raises(ValueError, match="Corrupt agent file"):
        load_agent(tmp_path)
