"""`LatentActions`: the Gymnasium contract (check_env, spaces, episode ends), decoding that matches
the CoLA agent's, SB3 PPO on both modes, and clear errors for bad actions and arguments.

The world model is the tiny one `tests/agents/test_cola.py` trains on real gold data (once per session).
"""

from __future__ import annotations

import warnings
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

import textgym  # noqa: F401  (registers the envs)
from tests.agents.test_cola import tiny_cola
from textgym.agents.cola import CoLAAgent, CoLAModel
from textgym.wrappers import LatentActions

ENV_ID = "ScienceWorld/find-living-thing-v0"


@pytest.fixture(scope="module")
def model() -> CoLAModel:
    return CoLAModel.load(tiny_cola()["agent"])


@pytest.fixture
def env(model: CoLAModel):
    env = LatentActions(gym.make(ENV_ID, max_episode_steps=3), model)
    yield env
    env.close()


def test_check_env_passes_in_both_modes(model: CoLAModel) -> None:
    for kwargs in ({}, {"chunk": 4, "observation": "tokens"}):
        env = LatentActions(gym.make(ENV_ID), model, **kwargs)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # unbounded Box and "wrapped env" notices, not failures
            check_env(env, skip_render_check=True)
        env.close()


def test_spaces(model: CoLAModel) -> None:
    token_mode = LatentActions(gym.make(ENV_ID), model)
    chunk_mode = LatentActions(gym.make(ENV_ID), model, chunk=5, observation="tokens")
    width = model.trunk.get_output_embeddings().weight.shape[1]
    assert token_mode.action_space == gym.spaces.Discrete(8)
    assert token_mode.observation_space.shape == (width,)
    assert chunk_mode.action_space == gym.spaces.MultiDiscrete([8] * 5)
    assert chunk_mode.observation_space.shape == (model.config.max_context,)
    obs, _ = chunk_mode.reset(seed=0)
    assert obs.dtype == np.int64 and obs[0] != model.pad_id and obs[-1] == model.pad_id
    token_mode.close()
    chunk_mode.close()


def test_token_mode_sends_the_command_at_its_end(env: LatentActions) -> None:
    obs, info = env.reset(seed=0)
    assert info["latent_steps"] == 0 and info["partial_command"] == "" and "task" in info
    cap = env.model.config.max_command_tokens
    for step in range(1, cap + 1):
        obs, reward, terminated, truncated, info = env.step(0)
        assert env.observation_space.contains(obs)
        if info["env_step_done"]:
            break
        assert reward == 0 and not terminated and not truncated
        assert info["latent_steps"] == step and info["partial_command"]
    assert info["env_step_done"] and 1 <= info["latent_steps"] <= cap
    assert env.unwrapped.actions_taken == [info["command"]]
    assert info["partial_command"] == ""


def test_wrapper_decodes_like_the_agent(model: CoLAModel) -> None:
    """The latents the agent drew, replayed through the wrapper, write the agent's command."""
    agent = CoLAAgent(model, sampling="sample", record=True)
    agent.reset(num_envs=1)
    agent.reset_env(0, seed=7)
    for chunk in (None, model.config.max_command_tokens):
        env = LatentActions(gym.make(ENV_ID), model, chunk=chunk)
        obs_text, info = env.env.reset(seed=1)
        command = agent.act(obs_text, info)
        latents = agent.episodes[7][-1].latents
        env.reset(seed=1)
        agent.reset_env(0, seed=7)
        if chunk is None:
            for latent in latents:
                *_, info = env.step(latent)
        else:
            *_, info = env.step(np.array(latents + [0] * (chunk - len(latents))))
        assert info["env_step_done"] and info["command"] == command
        env.close()


def test_episode_end_passes_through(env: LatentActions) -> None:
    env.reset(seed=0)
    commands = 0
    truncated = False
    while not truncated:
        *_, truncated, info = env.step(1)
        commands += info["env_step_done"]
    assert commands == 3   # the inner TimeLimit counts commands, not latents
    with pytest.raises(gym.error.ResetNeeded):
        env.step(1)


@pytest.mark.parametrize("action", [8, -1, "open door", 1.5, np.array([1, 2])])
def test_bad_token_actions_are_clear_errors(env: LatentActions, action) -> None:
    env.reset(seed=0)
    with pytest.raises(ValueError, match="latent action space"):
        env.step(action)


def test_bad_chunk_actions_and_arguments_are_clear_errors(model: CoLAModel, tmp_path: Path) -> None:
    env = LatentActions(gym.make(ENV_ID), model, chunk=3)
    with pytest.raises(gym.error.ResetNeeded):
        env.step(np.zeros(3, dtype=np.int64))
    env.reset(seed=0)
    for action in (np.zeros(4, dtype=np.int64), np.array([0, 1, 9]), [0.5, 1, 2]):
        with pytest.raises(ValueError, match="latent action space"):
            env.step(action)
    env.close()
    inner = gym.make(ENV_ID)
    for kwargs, match in (({"chunk": 0}, "chunk"), ({"chunk": 99}, "chunk"), ({"chunk": True}, "chunk"),
                          ({"observation": "pixels"}, "observation")):
        with pytest.raises(ValueError, match=match):
            LatentActions(inner, model, **kwargs)
    with pytest.raises(FileNotFoundError, match="not a CoLA model folder"):
        LatentActions(inner, tmp_path)
    inner.close()


@pytest.mark.parametrize("chunk", [None, 3])
def test_sb3_ppo_trains_on_it(model: CoLAModel, chunk: int | None) -> None:
    from stable_baselines3 import PPO

    env = LatentActions(gym.make(ENV_ID, max_episode_steps=5), model, chunk=chunk)
    agent = PPO("MlpPolicy", env, n_steps=32, batch_size=16, n_epochs=1, seed=0, device="cpu")
    before = [p.detach().clone() for p in agent.policy.parameters()]
    agent.learn(total_timesteps=32)
    assert agent.num_timesteps == 32
    after = list(agent.policy.parameters())
    assert any(not np.allclose(a.numpy(), b.detach().numpy()) for a, b in zip(before, after, strict=True))
    env.close()
