"""`textgym bench` end to end on a tiny protocol, a user's own agent, and the Ray backend."""

from __future__ import annotations

import json
import textwrap

import pytest

from textgym.baselines.backends import run_episodes
from textgym.baselines.bench import RESULT_FILES
from textgym.cli import main
from textgym.evaluation.evaluate import protocol_episodes
from textgym.evaluation.protocols import PROTOCOLS

SHORT = "ScienceWorld/lifespan-longest-lived-v0"

USER_AGENT = textwrap.dedent('''
    class LookAround:
        """A user's policy: a plain class with act(), no textgym base class."""
        name = "look-around"

        def act(self, observation, info):
            return "look around"
''')


def test_bench_on_a_tiny_protocol_writes_every_file(tmp_path, capsys) -> None:
    (tmp_path / "my_policy.py").write_text(USER_AGENT)
    out = tmp_path / "results"
    code = main(["bench", "--agents", "random,oracle", "--agent", f"{tmp_path / 'my_policy.py'}:LookAround",
                 "--env", SHORT, "--variations", "2", "--out", str(out)])
    assert code == 0
    assert {path.name for path in out.iterdir()} >= set(RESULT_FILES)
    printed = capsys.readouterr().out
    assert "oracle" in printed and "LookAround" in printed and "overall" in printed
    results = json.loads((out / "results.json").read_text())
    assert results["summary"]["oracle"]["overall"]["score"] == 100
    oracle = results["statistics"]["oracle"]
    assert oracle["mean"] == {"estimate": 100.0, "low": 100.0, "high": 100.0}
    assert oracle["compare_to"] == "random" and oracle["difference"]["estimate"] > 0
    assert results["summary"]["LookAround"]["overall"]["score"] == 0  # same episodes, no progress
    assert len(results["episodes"]["random"]) == len(results["episodes"]["LookAround"]) == 2
    config = json.loads((out / "config.json").read_text())
    assert config["versions"]["scienceworld"] == "1.2.3" and "torch" in config["versions"]
    assert [e["variation"] for e in config["episodes"]] == [93, 94] and config["protocol"]["name"] == "quick"
    assert (out / "table.md").read_text().count("|") > 10
    assert (out / "chart.png").read_bytes()[:4] == b"\x89PNG"


def test_bench_bad_input_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["bench", "--agents", "random", "--agent", str(tmp_path / "missing"), "--out",
                 str(tmp_path / "r"), "--env", SHORT, "--variations", "1"]) == 2
    assert "No agent" in capsys.readouterr().err
    assert main(["bench", "--agents", "random", "--compare-to", "bc", "--env", SHORT, "--variations", "1",
                 "--out", str(tmp_path / "r")]) == 2
    assert "--compare-to 'bc' is not among the agents" in capsys.readouterr().err
    assert main(["bench", "--agents", "randomm", "--out", str(tmp_path / "r")]) == 2
    assert "Unknown baseline(s) ['randomm']" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--protocol", "papr"])
    assert "invalid choice: 'papr'" in capsys.readouterr().err


def test_local_and_ray_backends_agree() -> None:
    episodes = protocol_episodes(PROTOCOLS["quick"], [SHORT, "ScienceWorld/find-non-living-thing-v0"],
                                 variations_per_task=1)
    local = run_episodes("random", episodes, "local", num_envs=2)
    on_ray = run_episodes("random", episodes, "ray", num_envs=2)
    assert [r.to_dict() | {"seconds": 0} for r in local] == [r.to_dict() | {"seconds": 0} for r in on_ray]
