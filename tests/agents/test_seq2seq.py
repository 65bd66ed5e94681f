"""Seq2seq imitation agents (BC and sub-goal): prompts and training examples, the admissible
fallback, an end-to-end run (real gold data, annotation, training, evaluation in ScienceWorld),
save/load, and clear errors for bad settings, wrong data and corrupt checkpoints.

Data and models are real and made here by our own code, at a tiny size (2 tasks x 2 train
variations, a 1-layer 32-wide T5, a few optimizer steps), so that the module takes about a minute.
"""

from __future__ import annotations

import dataclasses
import json
import random
import shutil
from pathlib import Path

import pytest
import torch

from textgym.agents import load_agent
from textgym.agents.common.record import RECORD_FILE, RECORD_KEYS
from textgym.agents.seq2seq import (
    BCAgent,
    BCTrainConfig,
    CheckpointError,
    PromptConfig,
    ScratchT5,
    Seq2SeqLM,
    SubgoalAgent,
    SubgoalTrainConfig,
    train_bc,
    train_subgoal,
)
from textgym.agents.seq2seq.decoding import choose_command, make_similarity, normalize
from textgym.agents.seq2seq.prompts import (
    COMPLETE_TASK,
    END_SG,
    EpisodeMemory,
    bc_examples,
    executor_prompt,
    kept_steps,
    subgoal_examples,
)
from textgym.agents.seq2seq.subgoal import OraclePlannerAgent, oracle_subgoals, planner_accuracy
from textgym.agents.seq2seq.training import prepare_data, use_bf16
from textgym.cli import main
from textgym.data.gold import build_gold, iter_episodes
from textgym.evaluation.evaluate import evaluate, protocol_episodes
from textgym.evaluation.protocols import PROTOCOLS

ENV_IDS = ["ScienceWorld/lifespan-longest-lived-v0", "ScienceWorld/find-non-living-thing-v0"]
TINY = ScratchT5(d_model=32, d_ff=64, num_layers=1, num_heads=2)
TINY_ARGS = ["--d-model", "32", "--d-ff", "64", "--layers", "1", "--heads", "2", "--max-steps", "3",
             "--batch-size", "8", "--eval-every", "2", "--num-beams", "3", "--similarity", "overlap",
             "--quiet"]


@pytest.fixture(scope="module")
def data(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Gold and annotated data: 2 tasks x 2 train variations, and 1 dev variation each."""
    return prepare_data(ENV_IDS, tmp_path_factory.mktemp("seq2seq-data"), train_variations=2,
                        dev_variations=1, progress=False)


def tiny_config(paths: dict[str, Path], out: Path, annotated: bool = False, **changes) -> BCTrainConfig:
    kind = "annotated" if annotated else "gold"
    settings = dict(data=str(paths[kind]), dev_data=str(paths[f"{kind}-dev"]), out=str(out), scratch=TINY,
                    max_steps=3, batch_size=8, eval_every=2, num_beams=3, similarity="overlap",
                    progress=False)
    settings.update(changes)
    return SubgoalTrainConfig(**settings) if annotated else BCTrainConfig(**settings)


@pytest.fixture(scope="module")
def agents(data: dict[str, Path], tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A BC agent and a sub-goal agent trained for a few steps; their folders."""
    root = tmp_path_factory.mktemp("seq2seq-agents")
    train_bc(tiny_config(data, root / "bc"))
    train_subgoal(tiny_config(data, root / "subgoal", annotated=True))
    return {"bc": root / "bc", "subgoal": root / "subgoal"}


def episodes_of(path: Path) -> list[list[dict]]:
    return [records for _, records in iter_episodes(path, ())]


# ---------------------------------------------------------------------------------------- prompts
def test_bc_examples_replay_the_kept_gold_steps(data):
    episode = episodes_of(data["gold"])[0]
    kept = kept_steps(episode)
    dropped = [r["action"] for r in episode if r not in kept]
    assert dropped and all(a == "look around" or a.startswith("open door to") for a in dropped)
    examples = bc_examples(episode, PromptConfig())
    assert [target for _, target in examples] == [record["action"] for record in kept]
    assert examples[0][0].startswith(episode[0]["task_description"].split()[0])
    assert "Time: 0; Score: " in examples[0][0] and f"Time: {len(kept) - 1};" in examples[-1][0]
    assert history_of(examples[1][0]).startswith(kept[0]["action"])  # the previous command


def test_subgoal_examples_follow_the_inference_loop(data):
    for episode in episodes_of(data["annotated"]):
        planner, executor = subgoal_examples(episode, PromptConfig())
        kept = kept_steps(episode)
        segments = [r["subgoal"] for i, r in enumerate(kept) if i + 1 == len(kept) or
                    kept[i + 1]["segment"] != r["segment"]]
        assert "You just have started this task" in planner[0][0] and planner[0][1] == segments[0]
        assert planner[-1][1] == COMPLETE_TASK
        assert [target for _, target in executor if target != END_SG] == [r["action"] for r in kept]
        assert sum(target == END_SG for _, target in executor) == len(segments)
        assert len(planner) == len(executor) + 1
        # after each END_SG the planner names the next segment's sub-goal
        switches = [target for prompt, target in planner[1:]
                    if history_of(prompt).endswith("subgoal is done.")]
        assert switches == [*segments[1:], COMPLETE_TASK]


def history_of(prompt: str) -> str:
    return prompt.split("Action history: </s> ")[1].split(" </s> Current environment")[0]


def test_memory_end_of_subgoal_does_not_advance_time():
    memory = EpisodeMemory("Your task is to boil water.")
    memory.observe("This room is called the kitchen.", "", 0)
    memory.record("open fridge", 0, "The fridge is now open.")
    memory.record(END_SG, 0, "The current subgoal is done.")
    memory.subgoals += ["open(fridge)", "pick_up(water)"]
    assert memory.time == 1 and memory.recent_actions(3) == ["open fridge"] and memory.rooms == ["kitchen"]
    prompt = executor_prompt(memory, PromptConfig())
    assert "Completed subtasks are: open(fridge). The current subtask is pick_up(water)." in prompt


def test_prompt_config_rejects_bad_budgets():
    with pytest.raises(ValueError, match="history"):
        PromptConfig(history=-1)
    with pytest.raises(ValueError, match="look_words"):
        PromptConfig(look_words=2.5)


# ---------------------------------------------------------------------------------------- fallback
def test_fallback_prefers_the_top_beam_then_admissible_beams_then_similarity():
    admissible = ["focus on dove egg", "go to kitchen", "look around", "pick up dove egg"]
    assert choose_command(["go to kitchen", "look around"], admissible, []) == "go to kitchen"
    assert choose_command(["eat dove", "Look  Around", "go to kitchen"], admissible, []) == "look around"
    assert choose_command(["focus on dove"], admissible, []) == "focus on dove egg"
    # the fallback avoids the last 3 commands, the admissible top beam does not
    assert choose_command(["eat dove", "look around", "go to kitchen"], admissible,
                          ["look around"]) == "go to kitchen"
    assert choose_command(["look around"], admissible, ["look around"]) == "look around"
    assert choose_command(["pick up dove"], admissible, ["pick up dove egg"]) == "focus on dove egg"
    # the fallback focuses only on things in view (a wrong focus ends the episode)
    assert choose_command(["focus on dove"], admissible, [], seen={"a", "red", "box"}) == "pick up dove egg"
    assert choose_command(["focus on dove"], admissible, [], seen={"dove", "egg"}) == "focus on dove egg"
    assert choose_command(["focus on dove egg"], admissible, [], seen=set()) == "focus on dove egg"
    # no admissible list: the first beam that is not a recent command
    assert choose_command(["look around", "go to kitchen"], None, ["look around"]) == "go to kitchen"
    with pytest.raises(ValueError, match="No beam"):
        choose_command([], None, [])


def test_fallback_never_returns_a_non_admissible_command():
    rng = random.Random(0)
    vocabulary = ["open", "go", "to", "kitchen", "door", "focus", "on", "water", "pot", "move", "in", "red",
                  "box", "look", "around"]

    def phrase() -> str:
        return " ".join(rng.choices(vocabulary, k=rng.randint(1, 5)))

    for _ in range(500):
        admissible = list({phrase() for _ in range(rng.randint(1, 8))})
        beams = [phrase() for _ in range(rng.randint(0, 5))]
        recent = rng.sample(admissible, min(len(admissible), rng.randint(0, 3)))
        assert choose_command(beams, admissible, recent) in admissible
    assert normalize("Move  metal-pot to Stove") == "move metal - pot to stove"


def test_minilm_fallback_picks_the_closest_meaning():
    similarity = make_similarity("minilm")
    admissible = ["eat apple", "focus on baby wolf", "focus on axe", "open fridge"]
    assert choose_command(["focus on brown bear"], admissible, [], similarity) == "focus on baby wolf"
    assert choose_command(["look in the refrigerator"], admissible, [], similarity) == "open fridge"
    with pytest.raises(ValueError, match="similarity"):
        make_similarity("cosine")


# ---------------------------------------------------------------------------------------- end to end
def test_trained_agents_play_scienceworld_and_score_in_range(agents, data):
    bc, subgoal = load_agent(agents["bc"]), load_agent(agents["subgoal"])
    assert isinstance(bc, BCAgent) and isinstance(subgoal, SubgoalAgent)
    spec = protocol_episodes(PROTOCOLS["quick"], ENV_IDS[:1], variations_per_task=1)[0]
    episodes = [dataclasses.replace(spec, max_steps=4)]
    for agent in (bc, subgoal):
        results = evaluate(agent, episodes * 2, num_envs=2)
        assert len(results) == 2 and all(0 <= r.normalized <= 100 for r in results)
        assert all(1 <= r.steps <= 4 for r in results)
        assert results[0].actions == results[1].actions  # batched slots decide alike
    summary = json.loads((agents["subgoal"] / "training.json").read_text())
    assert [m["name"] for m in summary["models"]] == ["planner", "executor"]
    assert all(m["parameters"] > 0 and m["bytes_on_disk"] > 0 for m in summary["models"])


def scripted_inputs(data: dict[str, Path]) -> tuple[list[str], list[dict]]:
    """The observations and infos of a gold episode, with a few admissible commands each."""
    episode = episodes_of(data["gold"])[0]
    commands = sorted({record["action"] for record in episode} | {"look around", "inventory"})
    observations = [episode[0]["observation"], *(r["next_observation"] for r in episode[:-1])]
    infos = [{"task": r["task_description"], "score": r["score"] - r["reward"], "look": r["look"],
              "inventory": r["inventory"], "admissible_commands": commands} for r in episode]
    return observations, infos


def test_beam_search_returns_the_beams_of_stock_generate(agents, data):
    """`Seq2SeqLM.generate` skips reordering the cross-attention cache between beams (it is one
    copy of the encoder output per beam of a prompt): the beams must be those of stock `generate`,
    here on prompts of different lengths padded into one batch."""
    lm = Seq2SeqLM.load(agents["bc"] / "model")
    observations, _ = scripted_inputs(data)
    prompts = [observations[0], observations[0][:40], " ".join(observations[:3])]
    batch = lm.encode(prompts)
    assert batch["attention_mask"].sum(dim=1).unique().numel() == 3  # three lengths, so padding
    with torch.inference_mode():
        stock = lm.model.generate(**batch, num_beams=4, num_return_sequences=4, max_new_tokens=12,
                                  do_sample=False, early_stopping=True)
    texts = [" ".join(t.split()) for t in lm.tokenizer.batch_decode(stock, skip_special_tokens=True)]
    assert lm.generate(prompts, num_beams=4, max_new_tokens=12) == [texts[0:4], texts[4:8], texts[8:12]]


@pytest.mark.parametrize("kind", ["bc", "subgoal"])
def test_save_and_load_give_identical_actions(agents, data, tmp_path, kind):
    agent = load_agent(agents[kind])
    copy_dir = agent.save(tmp_path / "copy")
    again = load_agent(copy_dir)
    assert type(again) is type(agent) and again.config() == agent.config()
    observations, infos = scripted_inputs(data)
    for current in (agent, again):
        current.reset(2)
    first = [agent.act_batch([o, o], [i, i], [0, 1]) for o, i in zip(observations, infos, strict=True)]
    second = [again.act_batch([o, o], [i, i], [0, 1]) for o, i in zip(observations, infos, strict=True)]
    assert first == second
    assert all(action in infos[0]["admissible_commands"] for pair in first for action in pair)


def test_cli_trains_an_agent_that_eval_loads(data, tmp_path):
    out = tmp_path / "bc"
    assert main(["train", "bc", "--data", str(data["gold"]), "--dev-data", str(data["gold-dev"]),
                 "--out", str(out), *TINY_ARGS]) == 0
    assert (out / "model" / "model.safetensors").is_file() and (out / "tensorboard").is_dir()
    assert json.loads((out / "training.json").read_text())["models"][0]["steps"] == 3
    record = json.loads((out / RECORD_FILE).read_text())  # the same keys for every trainer
    assert tuple(record) == RECORD_KEYS and record["agent"] == "." and record["budget"]["steps"] == 3
    assert main(["eval", "--agent", str(out), "--protocol", "quick", "--env", ENV_IDS[0], "--variations", "1",
                 "--num-envs", "1", "--out", str(tmp_path / "eval")]) == 0
    result = json.loads((tmp_path / "eval" / "results.json").read_text())
    assert 0 <= result["summary"]["bc"]["overall"]["score"] <= 100


def test_any_hugging_face_seq2seq_folder_can_be_fine_tuned(agents, data, tmp_path):
    """`model=` takes a Hugging Face id or folder (here a T5 saved with `save_pretrained`, as a
    downloaded FLAN-T5 would be; the hub is not reachable from these machines)."""
    agent = train_bc(tiny_config(data, tmp_path / "tuned", model=str(agents["bc"] / "model"),
                                 max_steps=1)).agent
    original = Seq2SeqLM.load(agents["bc"] / "model")
    assert agent.model.num_parameters() == original.num_parameters()
    assert agent.model.tokenizer.get_vocab() == original.tokenizer.get_vocab()


# ---------------------------------------------------------------------------------------- the hierarchy
class ScriptedLM:
    """Stands in for a trained model where the test needs given outputs (a real model's beams cannot
    be scripted): `generate` returns the next scripted beams for each prompt and records the prompt."""

    def __init__(self, script: list[list[str]]) -> None:
        self.script, self.prompts = script, []

    def to(self, device: str) -> ScriptedLM:
        return self

    def generate(self, prompts, num_beams=5, max_new_tokens=24):
        self.prompts += prompts
        return [self.script.pop(0) if len(self.script) > 1 else self.script[0] for _ in prompts]


INFO = {"task": "Your task is to boil water.", "score": 0, "look": "This room is called the hallway.",
        "inventory": "", "admissible_commands": ["focus on water", "go to kitchen", "inventory",
                                                 "look around"]}


def test_end_of_subgoal_asks_the_planner_again_without_stepping_the_env():
    planner = ScriptedLM([["navigate_to(kitchen)"], ["navigate_to(kitchen)"], ["focus_on(water)"]])
    executor = ScriptedLM([["go to kitchen"], [END_SG, "look around"], ["focus on water", END_SG]])
    agent = SubgoalAgent(planner, executor, num_beams=2)
    agent.reset(1)
    assert agent.act("You are in the hallway.", INFO) == "go to kitchen"
    assert agent.memories[0].subgoals == ["navigate_to(kitchen)"]
    kitchen = {**INFO, "look": "This room is called the kitchen.", "score": 5}
    assert agent.act("You move to the kitchen.", kitchen) == "focus on water"
    memory = agent.memories[0]
    assert memory.subgoals == ["navigate_to(kitchen)", "focus_on(water)"]
    assert [(step.action, step.reward) for step in memory.steps] == [("go to kitchen", 5), (END_SG, 0)]
    assert memory.time == 1 and memory.rooms == ["hallway", "kitchen"]
    assert len(planner.prompts) == 3 and "You just have started" in planner.prompts[0]
    assert history_of(planner.prompts[2]).endswith("END_SG (+0) --> The current subgoal is done.")


def test_end_of_subgoal_rounds_are_capped():
    agent = SubgoalAgent(ScriptedLM([["navigate_to(kitchen)"]]), ScriptedLM([[END_SG, "inventory"]]),
                         num_beams=2, max_subgoal_ends=2)
    agent.reset(1)
    assert agent.act("You are in the hallway.", INFO) == "inventory"
    assert [step.action for step in agent.memories[0].steps] == [END_SG, END_SG]


def test_a_blank_planner_answer_keeps_the_current_subgoal():
    """A planner that writes nothing (or only spaces) must not push a blank sub-goal into the prompts."""
    planner = ScriptedLM([["navigate_to(kitchen)"], ["", "focus_on(water)"], ["  "]])
    agent = SubgoalAgent(planner, ScriptedLM([["go to kitchen"]]), num_beams=2)
    agent.reset(1)
    for _ in range(3):
        agent.act("You are in the hallway.", INFO)
    assert agent.memories[0].subgoals == ["navigate_to(kitchen)"]
    assert "The current subtask is navigate_to(kitchen)." in executor_prompt(agent.memories[0], agent.prompt)


def test_bf16_is_chosen_on_the_configured_device_and_never_for_emulation(monkeypatch):
    """No GPU here, so torch.cuda's answers are scripted: device 0 has emulated bf16 only
    (compute capability 7.x), device 1 native bf16; the current device stays 0."""
    assert use_bf16(None, torch.device("cpu")) is False
    assert use_bf16(True, torch.device("cpu")) is True and use_bf16(False, torch.device("cuda")) is False
    current = []
    asked = []

    class Device:
        def __init__(self, device):
            self.index = torch.device(device).index or 0

        def __enter__(self):
            current.append(self.index)

        def __exit__(self, *exc):
            current.pop()

    def is_bf16_supported(including_emulation=True):
        asked.append(including_emulation)
        index = current[-1] if current else 0
        return index == 1 or including_emulation

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device", Device)
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", is_bf16_supported)
    assert use_bf16(None, torch.device("cuda:0")) is False
    assert use_bf16(None, torch.device("cuda:1")) is True
    assert asked == [False, False]


def test_oracle_planner_follows_the_annotated_subgoals_on_each_end_of_subgoal():
    labels = ["navigate_to(kitchen)", "focus_on(water)"]
    oracle = OraclePlannerAgent(ScriptedLM([["go to kitchen"], [END_SG, "look around"], ["focus on water"]]),
                                {(3, ("go to kitchen", "focus on water")): labels}, num_beams=2)
    oracle.reset(1)
    first = {**INFO, "variation": 3, "gold_path": ["go to kitchen", "focus on water"]}
    assert oracle.act("You are in the hallway.", first) == "go to kitchen"
    assert oracle.memories[0].subgoals == labels[:1]
    assert oracle.act("You move to the kitchen.", {**INFO, "variation": 3}) == "focus on water"
    assert oracle.memories[0].subgoals == labels
    oracle.reset(1)
    with pytest.raises(KeyError, match="No oracle sub-goals for variation 4"):
        oracle.act("You are in the hallway.", {**first, "variation": 4})


def test_oracle_table_and_planner_accuracy_come_from_annotated_data(agents, data):
    table = oracle_subgoals(data["annotated-dev"])
    assert len(table) == len(ENV_IDS) and all(labels for labels in table.values())
    subgoal = load_agent(agents["subgoal"])
    accuracy = planner_accuracy(subgoal.planner, data["annotated-dev"], subgoal.prompt)
    dev = episodes_of(data["annotated-dev"])
    planner_examples = sum(len(subgoal_examples(episode, subgoal.prompt)[0]) for episode in dev)
    assert accuracy["new_count"] + accuracy["keep_count"] == planner_examples
    assert accuracy["new_count"] >= 2 * len(ENV_IDS)  # t=0 and complete_task at least, per episode
    assert all(0 <= accuracy[k] <= 1 for k in ("new", "keep", "overall"))


# ---------------------------------------------------------------------------------------- errors
def test_missing_or_corrupt_checkpoints_are_clear_errors(agents, tmp_path):
    with pytest.raises(FileNotFoundError, match=r"agent\.json"):
        load_agent(tmp_path)
    broken = Path(shutil.copytree(agents["bc"], tmp_path / "no-model"))
    shutil.rmtree(broken / "model")
    with pytest.raises(CheckpointError, match="No seq2seq checkpoint"):
        load_agent(broken)
    corrupt = Path(shutil.copytree(agents["bc"], tmp_path / "corrupt"))
    (corrupt / "model" / "model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(CheckpointError, match="Corrupt seq2seq checkpoint"):
        load_agent(corrupt)
    (corrupt / "model" / "model.safetensors").unlink()
    shutil.copy(agents["bc"] / "model" / "model.safetensors", corrupt / "model")
    (corrupt / "model" / "config.json").write_text("{ not json")
    with pytest.raises(CheckpointError, match="Corrupt seq2seq checkpoint"):
        Seq2SeqLM.load(corrupt / "model")
    with pytest.raises(CheckpointError, match="--model scratch"):
        Seq2SeqLM.pretrained(str(tmp_path / "no-such-model"))


def test_bad_settings_and_data_are_clear_errors(data, tmp_path):
    with pytest.raises(ValueError, match="batch_size"):
        tiny_config(data, tmp_path, batch_size=0)
    with pytest.raises(ValueError, match="similarity"):
        tiny_config(data, tmp_path, similarity="cosine")
    with pytest.raises(ValueError, match="multiple of num_heads"):
        ScratchT5(d_model=30, num_heads=4)
    with pytest.raises(ValueError, match="lacks subgoal"):  # gold data is not annotated
        train_subgoal(tiny_config(data, tmp_path, annotated=True, data=str(data["gold"])))
    with pytest.raises(ValueError, match="dev-split episodes only"):
        train_bc(tiny_config(data, tmp_path, dev_data=str(data["gold"])))
    test_gold = tmp_path / "gold-test"
    build_gold(ENV_IDS[:1], test_gold, split="test", max_variations=1, progress=False)
    with pytest.raises(ValueError, match="test-split"):
        train_bc(tiny_config(data, tmp_path, data=str(test_gold)))


def test_agents_check_their_settings_and_name_the_info_they_need(agents):
    model = Seq2SeqLM.load(agents["bc"] / "model")
    with pytest.raises(ValueError, match="num_beams"):
        BCAgent(model, num_beams=0)
    with pytest.raises(ValueError, match="similarity"):
        BCAgent(model, similarity="cosine")
    with pytest.raises(ValueError, match="max_subgoal_ends"):
        SubgoalAgent(model, model, max_subgoal_ends=-1)
    agent = BCAgent(model)
    agent.reset(1)
    with pytest.raises(KeyError, match="extra_info"):
        agent.act("You are in the kitchen.", {"task": "Boil water.", "score": 0})


def test_same_seed_trains_the_same_agent_and_prints_the_same_bench_table(data, tmp_path):
    """Budgets are steps, so training twice gives byte-identical weights, and two bench runs of
    the trained agent give identical tables (the README's figures are reproducible)."""
    first, second = (train_bc(tiny_config(data, tmp_path / name)).directory
                     for name in ("bc-first", "bc-second"))
    weights = sorted(p.relative_to(first) for p in first.rglob("*.safetensors"))
    assert weights and all((first / p).read_bytes() == (second / p).read_bytes() for p in weights)
    tables = []
    for name, agent in (("a", first), ("b", second)):
        out = tmp_path / f"bench-{name}"
        # the oracle is the cheap agent to pair with (random would play 100 steps an episode)
        assert main(["bench", "--agents", "oracle", "--compare-to", "oracle", "--agent", str(agent), "--env",
                     ENV_IDS[0], "--variations", "2", "--num-envs", "2", "--out", str(out)]) == 0
        tables.append((out / "table.md").read_text().replace(agent.name, "bc"))
    assert tables[0] == tables[1] and "[95% CI]" in tables[0]


def test_test_split_data_is_refused_for_training_and_selection(data, tmp_path):
    test_gold = tmp_path / "test-gold"
    build_gold([ENV_IDS[0]], test_gold, split="test", max_variations=1, progress=False)
    with pytest.raises(ValueError, match="test-split episodes: training"):
        train_bc(tiny_config(data, tmp_path / "a", data=str(test_gold)))
    with pytest.raises(ValueError, match="dev-split episodes only"):
        train_bc(tiny_config(data, tmp_path / "b", dev_data=str(test_gold)))
    from textgym.agents.cola.text import PromptFormat, load_examples

    with pytest.raises(ValueError, match="test-split episodes: held-out evaluation"):
        load_examples(str(test_gold), PromptFormat(), "held-out evaluation")
    from textgym.agents.drrn.train import DRRNTrainConfig

    with pytest.raises(ValueError, match="RL training uses the train and dev splits only"):
        DRRNTrainConfig(env=(ENV_IDS[0],), split="test", num_envs=1)
