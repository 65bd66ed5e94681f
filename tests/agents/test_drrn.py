"""DRRN: the network, the agent's batching and persistence, `textgym train drrn` on an easy game (it must
beat the random agent clearly) and `textgym eval` on the result. Everything runs on the real
TextWorldExpress simulator; the training run is short and seeded."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from textgym.agents import RandomAgent, load_agent
from textgym.agents.drrn import DRRN, DRRNAgent
from textgym.cli import main
from textgym.data.tokenizer import build_word_tokenizer
from textgym.evaluation.evaluate import EpisodeSpec, evaluate, summarize

COIN = "TextWorldExpress/coin-v0"
EASY_COIN = {"num_locations": 2}  # the coin is in the start room or one door away
EASY_STEPS = 5
MARGIN = 25
"""Points (0-100) by which the short DRRN run must beat the random agent (which scores ~33 here)."""


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("drrn")
    assert main(["train", "drrn", "--env", COIN, "--env-kwargs", json.dumps(EASY_COIN),
                 "--total-steps", "1500", "--num-envs", "4", "--max-episode-steps", str(EASY_STEPS),
                 "--max-candidates", "8",
                 "--hidden-dim", "32", "--embedding-dim", "16", "--learning-starts", "100",
                 "--tokenizer-episodes", "4", "--learning-rate", "1e-3", "--checkpoint-every", "1000",
                 "--seed", "0", "--out", str(out)]) == 0
    return out


def easy_episodes(n: int) -> list[EpisodeSpec]:
    first_test_variation = 20000  # TextWorldExpress: train 0-999, dev 10000-10999, test 20000-20999
    return [EpisodeSpec(COIN, variation=first_test_variation + v, seed=v, max_steps=EASY_STEPS,
                        make_kwargs={"split": "test", **EASY_COIN}) for v in range(n)]


def test_training_writes_logs_checkpoints_and_agent(trained: Path) -> None:
    assert (trained / "agent" / "agent.json").is_file() and (trained / "agent" / "model.pt").is_file()
    assert (trained / "checkpoints" / "step_1000" / "model.pt").is_file()
    assert list(trained.glob("events.out.tfevents.*"))
    summary = json.loads((trained / "summary.json").read_text())
    assert summary["env_steps"] == 1500 and summary["episodes"] > 100
    assert (trained / "episodes.csv").read_text().startswith("step,seconds,score,normalized,won,length")


def test_short_run_beats_random_by_a_margin(trained: Path) -> None:
    episodes = easy_episodes(60)
    drrn = summarize(evaluate(DRRNAgent.load(trained / "agent"), episodes, num_envs=2))["overall"]["score"]
    random = summarize(evaluate(RandomAgent(), episodes, num_envs=2))["overall"]["score"]
    assert drrn >= random + MARGIN, (drrn, random)


def test_textgym_eval_runs_the_saved_agent(trained: Path, tmp_path: Path) -> None:
    assert main(["eval", "--agent", str(trained / "agent"), "--protocol", "quick", "--env",
                 "ScienceWorld/find-living-thing-v0", "--variations", "1", "--num-envs", "1",
                 "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert "drrn" in json.dumps(results)


def test_save_load_round_trip_gives_identical_actions(trained: Path, tmp_path: Path) -> None:
    agent = load_agent(trained / "agent")
    assert isinstance(agent, DRRNAgent)
    agent.save(tmp_path / "copy")
    again = DRRNAgent.load(tmp_path / "copy")
    observations, infos = states(3)
    for a in (agent, again):
        a.reset(3)
        for slot in range(3):
            a.reset_env(slot, seed=slot)
    assert agent.act_batch(observations, infos) == again.act_batch(observations, infos)
    for name, tensor in agent.network.state_dict().items():
        assert torch.equal(tensor, again.network.state_dict()[name])


def states(n: int) -> tuple[list[str], list[dict]]:
    commands = ["take coin", "open door to north", "move north", "look around", "inventory"]
    observations = [f"You are in the kitchen. {'You see a coin.' if i % 2 else ''}" for i in range(n)]
    infos = [{"admissible_commands": commands[: 3 + i % 3], "look": observations[i], "inventory": "nothing",
              "task": "find the coin"} for i in range(n)]
    return observations, infos


def test_batched_acting_equals_one_at_a_time(trained: Path) -> None:
    agent = DRRNAgent.load(trained / "agent", temperature=0)
    observations, infos = states(4)
    agent.reset(4)
    batched = agent.act_batch(observations, infos)
    single = [agent.act(o, i) for o, i in zip(observations, infos, strict=True)]
    assert batched == single
    assert batched[1] == "take coin"  # learned: the coin in sight is taken


def test_network_masks_and_scores_consistently() -> None:
    torch.manual_seed(0)
    net = DRRN(vocab_size=30, fields=("observation", "look"), pad_id=0, embedding_dim=8, hidden_dim=16)
    obs = {"observation": torch.randint(1, 30, (3, 7)), "look": torch.randint(0, 30, (3, 5)),
           "candidates": torch.randint(1, 30, (3, 4, 3)),
           "action_mask": torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]])}
    obs["candidates"][1, 3] = obs["candidates"][0, 0]  # a repeated command is scored the same way
    q = net(obs)
    assert torch.isinf(q[obs["action_mask"] == 0]).all() and torch.isfinite(q[obs["action_mask"] == 1]).all()
    taken = torch.tensor([1, 3, 0])
    torch.testing.assert_close(net.q_taken(obs, taken), q[torch.arange(3), taken])


def test_bad_settings_and_files_are_clear_errors(trained: Path, tmp_path: Path) -> None:
    tokenizer = build_word_tokenizer(["take coin"])
    with pytest.raises(ValueError, match="temperature"):
        DRRNAgent(tokenizer, temperature=-1)
    with pytest.raises(ValueError, match="max_candidates"):
        DRRNAgent(tokenizer, max_candidates=0)
    with pytest.raises(ValueError, match="fields"):
        DRRNAgent(tokenizer, fields=("smell",))
    with pytest.raises(ValueError, match="admissible_commands"):
        DRRNAgent(tokenizer).act("You see a coin.", {"task": "find the coin"})
    broken = tmp_path / "broken"
    DRRNAgent.load(trained / "agent").save(broken)
    (broken / "model.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="Corrupt"):
        DRRNAgent.load(broken)
    (broken / "model.pt").unlink()
    with pytest.raises(FileNotFoundError, match=r"model\.pt"):
        load_agent(broken)
    with pytest.raises(SystemExit):
        main(["train", "drrn", "--env-kwargs", "{not json"])
    assert main(["train", "drrn", "--env", "TextWorldExpress/nope-v0"]) == 2
    assert main(["train", "drrn", "--env", COIN, "--batch-size", "0", "--out", str(tmp_path / "r")]) == 2
