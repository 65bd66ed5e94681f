"""Shipped trained agents: the bench loads them before its cache and never trains them again,
`--retrain` does, and everything shipped stays loadable and within the 100 MB budget."""

from __future__ import annotations

import json

import pytest

from textgym.agents import load_agent
from textgym.agents.base import RandomAgent
from textgym.agents.common.record import RECORD_FILE, RECORD_KEYS, TrainedAgent
from textgym.baselines import shipped
from textgym.baselines.recipes import BenchContext
from textgym.cli import main
from textgym.evaluation.protocols import get_protocol

SHORT = "ScienceWorld/lifespan-longest-lived-v0"


def record(agent: str = "agent") -> dict:
    """A training record with every key a trainer writes."""
    return {"agent": agent, "command": "textgym train bc ...",
            "budget": {"steps": 1, "unit": "optimizer steps"}, "seconds": 0.0,
            "data": {}, "seed": 0, "versions": {}, "metrics": {}}


@pytest.fixture
def shipped_root(tmp_path, monkeypatch):
    """An empty shipped-agents folder and an empty cache, so nothing real interferes."""
    monkeypatch.setattr(shipped, "SHIPPED_DIR", tmp_path / "trained")
    monkeypatch.setenv("TEXTGYM_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "trained"


def context(**settings) -> BenchContext:
    return BenchContext(protocol=get_protocol("quick"), env_ids=(SHORT,), **settings)


def test_a_shipped_agent_is_loaded_and_nothing_is_trained(tmp_path, shipped_root, capsys) -> None:
    """The bench's bc column is whatever is shipped for its key (here a saved random agent), its
    record is the shipped one, and the cache holds no data and no agent: nothing was trained."""
    quick = context()
    agent = RandomAgent().save(tmp_path / "made" / "agent")
    folder = shipped.ship(agent, record(), quick.key, "bc")
    out = tmp_path / "results"
    assert main(["bench", "--agents", "random,bc", "--env", SHORT, "--variations", "1",
                 "--parallel-agents", "1", "--num-envs", "1", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert config["agents"]["bc (seed 0)"] == str(folder)
    assert config["training"]["bc"]["command"] == "textgym train bc ..."
    assert not (tmp_path / "cache" / "bench" / quick.key).exists()
    results = json.loads((out / "results.json").read_text())["episodes"]
    assert [e["actions"] for e in results["bc"]] == [e["actions"] for e in results["random"]]
    assert "the shipped trained agent" in capsys.readouterr().out


def test_only_the_agent_and_its_record_are_shipped(tmp_path, shipped_root) -> None:
    """The BC trainer saves its agent in its run folder, next to TensorBoard logs and checkpoints."""
    run = RandomAgent().save(tmp_path / "run")
    (run / "tensorboard").mkdir()
    (run / "tensorboard" / "events").write_bytes(b"0" * 100)
    (run / RECORD_FILE).write_text(json.dumps(record(".")))
    folder = shipped.ship(run, record("."), context().key, "bc")
    assert sorted(p.name for p in folder.iterdir()) == ["agent.json"]
    assert json.loads((folder.parent / RECORD_FILE).read_text())["agent"] == "run"
    assert shipped.shipped_agent(context().key, "bc") == (folder, {**record(), "agent": "run"})


def test_retrain_ignores_the_shipped_agent(tmp_path, shipped_root) -> None:
    shipped.ship(RandomAgent().save(tmp_path / "made" / "agent"), record(), context().key, "bc")
    trained = []

    def train(directory):
        trained.append(directory)
        return TrainedAgent(None, directory / "agent", record())

    assert context().cached("bc", train, print)[0] == shipped_root / context().key / "bc" / "agent"
    assert not trained
    assert context(retrain=True).cached("bc", train, print)[0] == trained[0] / "agent"
    # another seed or scale is another key: the shipped agent is not used for it
    context(seed=1).cached("bc", train, print)
    assert len(trained) == 2


def test_a_shipped_record_without_its_agent_is_a_clear_error(tmp_path, shipped_root) -> None:
    quick = context()
    (shipped_root / quick.key / "bc").mkdir(parents=True)
    (shipped_root / quick.key / "bc" / RECORD_FILE).write_text(json.dumps(record()))
    with pytest.raises(FileNotFoundError, match="no saved agent"):
        quick.cached("bc", lambda directory: pytest.fail("trained"), print)


def test_shipping_refuses_to_go_over_the_budget(tmp_path, shipped_root, monkeypatch) -> None:
    agent = RandomAgent().save(tmp_path / "made" / "agent")
    (agent / "weights.bin").write_bytes(b"0" * 2000)
    monkeypatch.setattr(shipped, "SIZE_BUDGET_BYTES", 1000)
    with pytest.raises(ValueError, match="over its"):
        shipped.ship(agent, record(), context().key, "bc")
    with pytest.raises(FileNotFoundError, match="not a saved agent"):
        shipped.ship(tmp_path, record(), context().key, "bc")


def test_the_shipped_agents_are_complete_loadable_and_within_100_mb() -> None:
    """What the repository ships: at most 100 MB in all, and each agent has a full training record
    and loads."""
    assert shipped.folder_bytes(shipped.SHIPPED_DIR) <= shipped.SIZE_BUDGET_BYTES == 100 * 2**20
    for path in sorted(shipped.SHIPPED_DIR.glob(f"*/*/{RECORD_FILE}")):
        found = shipped.shipped_agent(path.parent.parent.name, path.parent.name)
        assert found is not None and set(RECORD_KEYS) <= set(found[1]), path
        assert callable(load_agent(found[0]).act), path


def test_train_only_prints_the_records_and_evaluates_nothing(tmp_path, shipped_root, capsys) -> None:
    shipped.ship(RandomAgent().save(tmp_path / "made" / "agent"), record(), context().key, "bc")
    out = tmp_path / "results"
    assert main(["bench", "--agents", "bc", "--env", SHORT, "--variations", "1", "--train-only",
                 "--out", str(out)]) == 0
    assert "bc: 1 optimizer steps, 0.0 s; textgym train bc ..." in capsys.readouterr().out
    assert not out.exists()
