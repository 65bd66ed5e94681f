"""How the RL trainers make their parallel envs: more tasks than envs take turns in them
(`TaskRotation`, one simulator at a time), reproducibly; a multi-task run trains end to end that way."""

from __future__ import annotations

import json

import gymnasium as gym
import pytest

from textgym.agents.common.record import RECORD_FILE
from textgym.agents.common.rl import TaskRotation, env_factories
from textgym.agents.drrn.train import DRRNTrainConfig
from textgym.cli import main

GAMES = ("TextWorldExpress/coin-v0", "TextWorldExpress/mapreader-v0", "TextWorldExpress/sorting-v0")


def config(num_envs: int) -> DRRNTrainConfig:
    return DRRNTrainConfig(env=GAMES, num_envs=num_envs, max_episode_steps=5, out="unused")


def play(env: gym.Env, episodes: int) -> list[tuple[str, str]]:
    """(task, first observation) of each episode; the first reset is seeded."""
    seen = []
    for episode in range(episodes):
        obs, info = env.reset(seed=7 if episode == 0 else None)
        seen.append((info["task"], obs))
    return seen


def test_fewer_envs_than_tasks_rotate_the_tasks_reproducibly() -> None:
    makers = env_factories(config(num_envs=2), wrap=lambda env: env, candidates=False)
    assert len(makers) == 2
    first = makers[0]()  # slot 0 plays coin and sorting in turn; slot 1 mapreader only
    again = makers[0]()
    try:
        assert isinstance(first, TaskRotation)
        seen = play(first, 4)
        assert len({task for task, _ in seen[0::2]}) == 1 and len({task for task, _ in seen[1::2]}) == 1
        assert seen[0][0] != seen[1][0]
        assert play(again, 4) == seen  # the same seed replays the same tasks and variations
    finally:
        first.close()
        again.close()


def test_enough_envs_keep_one_task_each() -> None:
    makers = env_factories(config(num_envs=4), wrap=lambda env: env, candidates=False)
    env = makers[3]()  # the ids take turns: the fourth env plays the first id again
    try:
        assert not isinstance(env, TaskRotation)
        assert env.spec.id == GAMES[0]
    finally:
        env.close()


def test_a_rotation_needs_an_env() -> None:
    with pytest.raises(ValueError, match="at least one"):
        TaskRotation([])


SMALL = {"drrn": ["--learning-starts", "20", "--hidden-dim", "16", "--embedding-dim", "8",
                   "--tokenizer-episodes", "1"],
         "ppo": ["--encoder", "tokens", "--fields", "observation,task", "--max-candidates", "8",
                 "--n-steps", "32", "--batch-size", "32"]}


@pytest.mark.parametrize("algorithm", SMALL)
def test_rl_trains_three_tasks_in_two_envs(algorithm: str, tmp_path) -> None:
    """PPO's action masks and DRRN's text actions pass through the rotation."""
    out = tmp_path / algorithm
    assert main(["train", algorithm, *[arg for game in GAMES for arg in ("--env", game)], "--num-envs", "2",
                 "--total-steps", "64", "--max-episode-steps", "5", *SMALL[algorithm],
                 "--out", str(out), "--quiet"]) == 0
    record = json.loads((out / RECORD_FILE).read_text())
    assert record["data"]["envs"] == list(GAMES)
    assert len((out / "episodes.csv").read_text().splitlines()) > 1 + 2  # episodes past a switch
    assert (out / record["agent"] / "agent.json").is_file()
