"""Stable-baselines3 out of the box: a stock MaskablePPO("MultiInputPolicy") on SubprocVecEnv over the
wrapped envs (ScienceWorld and TextWorldExpress; TextWorld in the slow run), masks read through the
subprocesses, `textgym train ppo`, and `PPOAgent` persistence. Real simulators throughout."""

from __future__ import annotations

import json
from pathlib import Path

import gymnasium as gym
import numpy as np
import pytest

import textgym  # noqa: F401 - registers the envs
from textgym.agents import load_agent
from textgym.agents.common.record import RECORD_FILE, RECORD_KEYS
from textgym.agents.ppo import PPOAgent
from textgym.cli import main
from textgym.data.tokenizer import build_word_tokenizer
from textgym.evaluation.evaluate import EpisodeSpec, evaluate
from textgym.wrappers import CandidateActions, EncodeDict, TokenIdEncoder

COIN = "TextWorldExpress/coin-v0"
EASY_COIN = {"num_locations": 2}


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("ppo")
    assert main(["train", "ppo", "--env", COIN, "--env-kwargs", json.dumps(EASY_COIN), "--total-steps", "256",
                 "--num-envs", "2", "--n-steps", "64", "--batch-size", "32", "--encoder", "tokens",
                 "--fields", "observation,task", "--max-candidates", "8", "--max-episode-steps", "5",
                 "--checkpoint-every", "128", "--seed", "0", "--out", str(out)]) == 0
    return out


def make_thunk(env_id: str, encoder: TokenIdEncoder):
    def make() -> gym.Env:
        return EncodeDict(CandidateActions(gym.make(env_id, max_episode_steps=8), max_candidates=16), encoder,
                          fields=("observation", "task"), candidates=True)
    return make


@pytest.mark.parametrize("env_id", [
    "ScienceWorld/find-living-thing-v0", COIN,
    pytest.param("TextWorld/coin_collector-v0", marks=pytest.mark.slow)])
def test_stock_maskable_ppo_trains_on_subprocess_envs(env_id: str) -> None:
    from sb3_contrib import MaskablePPO
    from sb3_contrib.common.maskable.utils import get_action_masks
    from stable_baselines3.common.vec_env import SubprocVecEnv

    tokenizer = build_word_tokenizer(["look around", "open door", "take coin", "focus on", "move"])
    envs = SubprocVecEnv([make_thunk(env_id, TokenIdEncoder(tokenizer, 16))] * 2, start_method="forkserver")
    try:
        model = MaskablePPO("MultiInputPolicy", envs, n_steps=16, batch_size=16, n_epochs=1, seed=0)
        model.learn(32)
        obs = envs.reset()
        for _ in range(4):
            masks = get_action_masks(envs)  # env_method("action_masks") through the subprocesses
            np.testing.assert_array_equal(masks, obs["action_mask"].astype(bool))
            actions, _ = model.predict(obs, action_masks=masks)
            assert masks[np.arange(2), actions].all()
            obs, _, _, infos = envs.step(actions)
            assert all(info["command"] for info in infos)
    finally:
        envs.close()


def test_train_ppo_writes_agent_logs_and_checkpoints(trained: Path) -> None:
    assert (trained / "agent" / "model.zip").is_file() and (trained / "agent" / "tokenizer").is_dir()
    assert (trained / "checkpoints" / "step_128" / "model.zip").is_file()
    assert list(trained.rglob("events.out.tfevents.*"))
    assert json.loads((trained / "summary.json").read_text())["env_steps"] == 256
    record = json.loads((trained / RECORD_FILE).read_text())  # the same keys for every trainer
    assert tuple(record) == RECORD_KEYS and record["agent"] == "agent" and record["budget"]["steps"] == 256


def test_saved_agent_is_evaluable_and_round_trips(trained: Path, tmp_path: Path) -> None:
    agent = load_agent(trained / "agent")
    assert isinstance(agent, PPOAgent) and agent.required_info == ("admissible_commands",)
    episodes = [EpisodeSpec(COIN, variation=20000 + v, seed=v, max_steps=5,
                            make_kwargs={"split": "test", **EASY_COIN}) for v in range(4)]
    results = evaluate(agent, episodes, num_envs=2)
    assert len(results) == 4 and all(r.steps >= 1 for r in results)
    agent.save(tmp_path / "copy")
    again = PPOAgent.load(tmp_path / "copy")
    observations = ["You are in the kitchen. You see a coin.", "You are in the hallway."]
    infos = [{"admissible_commands": ["take coin", "move north", "look around"], "task": "find the coin"},
             {"admissible_commands": ["open door to north", "inventory"], "task": "find the coin"}]
    for a in (agent, again):
        a.reset(2)
        a.reset_env(0, seed=3)
        a.reset_env(1, seed=4)
    assert agent.act_batch(observations, infos) == again.act_batch(observations, infos)
    deterministic = PPOAgent.load(trained / "agent", deterministic=True)
    deterministic.reset(2)
    assert deterministic.act_batch(observations, infos) == [deterministic.act(o, i) for o, i in
                                                            zip(observations, infos, strict=True)]


def test_bad_settings_and_files_are_clear_errors(trained: Path, tmp_path: Path) -> None:
    encoder = TokenIdEncoder(build_word_tokenizer(["take coin"]))
    with pytest.raises(TypeError, match="TextEncoder"):
        PPOAgent("minilm")
    with pytest.raises(ValueError, match="no policy"):
        PPOAgent(encoder).act("You see a coin.", {"admissible_commands": ["take coin"], "task": "coin"})
    with pytest.raises(ValueError, match="Nothing to save"):
        PPOAgent(encoder).save(tmp_path / "empty")
    broken = tmp_path / "broken"
    load_agent(trained / "agent").save(broken)
    (broken / "model.zip").write_bytes(b"not a zip")
    with pytest.raises(ValueError, match="Corrupt"):
        load_agent(broken)
    (broken / "model.zip").unlink()
    with pytest.raises(FileNotFoundError, match="model"):
        load_agent(broken)
    out = str(tmp_path / "r")
    assert main(["train", "ppo", "--env", COIN, "--fields", "observation,smell", "--out", out]) == 2
    assert main(["train", "ppo", "--env", COIN, "--max-candidates", "0", "--out", out]) == 2
    with pytest.raises(SystemExit):
        main(["train", "ppo", "--encoder", "bert"])
