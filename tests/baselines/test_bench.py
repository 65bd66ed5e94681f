"""`textgym bench` end to end on a tiny protocol, a user's own agent, and the Ray backend."""

from __future__ import annotations

import dataclasses
import json
import textwrap

import pytest

from textgym.baselines.backends import actor_options, run_agents, run_episodes
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
    assert main(["bench", "--agents", "random", "--threads", "0", "--out", str(tmp_path / "r")]) == 2
    assert "--threads must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["bench", "--agents", "random", "--parallel-agents", "0", "--out", str(tmp_path / "r")]) == 2
    assert "--parallel-agents must be a positive integer, got 0" in capsys.readouterr().err
    assert main(["bench", "--agents", "random", "--num-envs", "0", "--out", str(tmp_path / "r")]) == 2
    assert "--num-envs must be a positive integer, got 0" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["bench", "--protocol", "papr"])
    assert "invalid choice: 'papr'" in capsys.readouterr().err


def test_local_and_ray_backends_agree() -> None:
    tasks = [SHORT, "ScienceWorld/find-non-living-thing-v0"]
    episodes = [dataclasses.replace(spec, max_steps=20)  # 20 random steps tell as much as 100
                for spec in protocol_episodes(PROTOCOLS["quick"], tasks, variations_per_task=1)]
    local = run_episodes("random", episodes, "local", num_envs=2)
    on_ray = run_episodes("random", episodes, "ray", num_envs=2)
    assert [r.to_dict() | {"seconds": 0} for r in local] == [r.to_dict() | {"seconds": 0} for r in on_ray]


def test_agents_evaluated_side_by_side_give_the_same_results(tmp_path) -> None:
    """`--parallel-agents 2` (each agent in its own process) changes the wall time, not the table."""
    rows = {}
    for processes in (1, 2):
        out = tmp_path / f"r{processes}"
        assert main(["bench", "--agents", "random,oracle", "--env", SHORT, "--variations", "3",
                     "--num-envs", "2", "--parallel-agents", str(processes), "--out", str(out)]) == 0
        episodes = json.loads((out / "results.json").read_text())["episodes"]
        rows[processes] = {agent: [{**episode, "seconds": 0} for episode in results]
                           for agent, results in episodes.items()}
    assert rows[1] == rows[2] and len(rows[2]["random"]) == 3


def test_an_agent_failing_in_a_worker_process_is_a_clear_error(tmp_path) -> None:
    episodes = protocol_episodes(PROTOCOLS["quick"], [SHORT], variations_per_task=1)
    with pytest.raises(Exception, match="No agent"):
        run_agents(["random", str(tmp_path / "missing")], episodes, processes=2)
    with pytest.raises(ValueError, match="processes must be a positive integer"):
        run_agents(["random"], episodes, processes=0)


def test_evaluation_sets_the_agents_torch_threads() -> None:
    """A trainer earlier in the process (DRRN and PPO set 1 thread) or the machine's core count
    must not decide the thread count an agent is evaluated with: cold and cached benches agree."""
    import torch

    episodes = [dataclasses.replace(protocol_episodes(PROTOCOLS["quick"], [SHORT], variations_per_task=1)[0],
                                    max_steps=2)]
    torch.set_num_threads(2)
    run_episodes("random", episodes, "local", threads=1)
    assert torch.get_num_threads() == 1
    run_episodes("random", episodes, "local", threads=2)
    assert torch.get_num_threads() == 2
    with pytest.raises(ValueError, match="threads must be a positive integer"):
        run_episodes("random", episodes, "local", threads=0)


def test_ray_actors_ask_for_a_gpu_share_on_cuda() -> None:
    assert actor_options("cpu", 4, 1.0) == {"num_cpus": 1}
    assert actor_options("cuda:0", 4, 1.0) == {"num_cpus": 1, "num_gpus": 0.25}
    assert actor_options("cuda", 2, 4.0) == {"num_cpus": 1, "num_gpus": 1.0}
    with pytest.raises(RuntimeError, match="no GPU"):
        actor_options("cuda", 2, 0.0)


def test_ray_on_cuda_schedules_gpu_share_actors() -> None:
    """A real local Ray, declared with one GPU (a resource count: this machine has no GPU and the
    random agent needs none): the GPU-share actors are scheduled and give the local results."""
    import ray

    episodes = [dataclasses.replace(spec, max_steps=10)
                for spec in protocol_episodes(PROTOCOLS["quick"], [SHORT], variations_per_task=2)]
    local = run_episodes("random", episodes, "local", num_envs=2)
    ray.init(num_cpus=2, num_gpus=1, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_episodes("random", episodes, "ray", num_envs=2, device="cuda")
    finally:
        ray.shutdown()
    assert [r.to_dict() | {"seconds": 0} for r in local] == [r.to_dict() | {"seconds": 0} for r in on_ray]
