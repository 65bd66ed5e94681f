"""Every bench recipe retrains its default agent at a tiny scale, end to end (slow: ~3 minutes)."""

from __future__ import annotations

import json
import os

import pytest

from textgym.agents.common.record import RECORD_KEYS
from textgym.baselines.bench import BASELINES
from textgym.cli import main

SHORT = "ScienceWorld/lifespan-longest-lived-v0"
TRAINED = [name for name, baseline in BASELINES.items() if baseline.recipe is not None]


@pytest.mark.slow
def test_every_recipe_retrains_at_a_tiny_scale_and_is_evaluated(tmp_path) -> None:
    out = tmp_path / "results"
    assert main(["bench", "--agents", ",".join(["random", *TRAINED]), "--train-scale", "0.05",
                 "--env", SHORT, "--variations", "1", "--out", str(out)]) == 0
    config = json.loads((out / "config.json").read_text())
    assert sorted(config["training"]) == sorted(TRAINED)
    for name in TRAINED:
        record = config["training"][name]
        assert set(RECORD_KEYS) <= set(record), name
        folder = config["agents"][f"{name} (seed 0)"]
        assert os.path.isfile(os.path.join(folder, "agent.json")), name  # the agent the bench loaded
    results = json.loads((out / "results.json").read_text())
    assert all(len(results["episodes"][name]) == 1 for name in ["random", *TRAINED])
    assert "dev_score_bc_start" in config["training"]["cola"]["rl"]  # read from the RL record, not a file
