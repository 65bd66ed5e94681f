"""Tables with intervals, references kept to their protocol, and `textgym report` over saved runs."""

from __future__ import annotations

import json

import pytest
from rich.console import Console

from textgym.baselines.references import load_references
from textgym.baselines.report import (
    agent_statistics,
    combine_runs,
    markdown_report,
    print_tables,
    table_rows,
    write_results,
)
from textgym.cli import main
from textgym.evaluation.evaluate import EpisodeResult
from textgym.evaluation.protocols import PROTOCOLS

LONG = ("ScienceWorld/find-living-thing-v0", "ScienceWorld/find-non-living-thing-v0",
        "ScienceWorld/chemistry-mix-paint-secondary-color-v0", "ScienceWorld/lifespan-longest-lived-v0")


def episode(env_id: str, variation: int, normalized: float,
            training_seed: int | None = None) -> EpisodeResult:
    return EpisodeResult(env_id=env_id, variation=variation, seed=variation, score=normalized,
                         max_score=100.0, normalized=normalized, won=normalized == 100, lost=False,
                         steps=5, seconds=0.1, training_seed=training_seed)


def columns(scores: dict[str, list[float]]) -> dict[str, list[EpisodeResult]]:
    """Each agent's scores, spread over the four quick tasks in turn."""
    return {agent: [episode(LONG[i % 4], i // 4, s) for i, s in enumerate(values)]
            for agent, values in scores.items()}


def test_statistics_pair_the_same_episodes() -> None:
    stats = agent_statistics(columns({"random": [0, 0, 0, 0, 0, 0, 0, 0],
                                      "mine": [100, 0, 100, 0, 100, 100, 100, 0]}))
    assert stats["mine"]["mean"]["estimate"] == pytest.approx(62.5)
    assert stats["mine"]["difference"]["estimate"] == pytest.approx(62.5)
    assert stats["mine"]["probability_of_improvement"]["estimate"] == pytest.approx(0.8125)  # 5 wins, 3 ties
    assert stats["mine"]["mean"]["low"] < 62.5 < stats["mine"]["mean"]["high"]
    assert "difference" not in stats["random"]


def test_several_training_seeds_pair_with_a_single_random_run() -> None:
    random = [episode(LONG[0], v, 0.0) for v in range(3)]
    trained = [episode(LONG[0], v, 100.0 * (v == seed), training_seed=seed)
               for seed in (0, 1) for v in range(3)]
    stats = agent_statistics({"random": random, "trained": trained})
    assert stats["trained"]["episodes"] == 6 and stats["trained"]["training_seeds"] == [0, 1]
    assert stats["trained"]["difference"]["estimate"] == pytest.approx(100 / 3)


def test_a_comparison_on_other_episodes_is_refused() -> None:
    other = {"random": [episode(LONG[0], 1, 0.0)], "mine": [episode(LONG[0], 2, 100.0)]}
    with pytest.raises(ValueError, match="same episodes"):
        agent_statistics(other)


def test_a_reference_under_another_protocol_never_shares_our_column() -> None:
    paper = load_references(PROTOCOLS["paper"].descriptor())
    drrn = next(ref for ref in paper if ref.agent == "DRRN")
    assert not drrn.same_protocol
    assert any(d.startswith("variations: all") for d in drrn.differs)
    assert any(d.startswith("seeds: 5") for d in drrn.differs)
    results = {"mine": [episode(f"ScienceWorld/{t}-v0", 0, 50.0) for t in ("boil", "melt")]}
    header, _ = table_rows(results, paper)
    assert header == ["env", "mine"]  # nothing from another protocol beside ours
    text = markdown_report(results, paper, compare_to=None)
    assert "another protocol" not in text  # two tasks here, the references cover thirty

    swiftsage = load_references(PROTOCOLS["swiftsage"].descriptor())
    same = [ref.agent for ref in swiftsage if ref.same_protocol]
    assert same == ["SwiftSage (GPT-4 assisted)"]
    assert table_rows(results, swiftsage)[0][-1] == "SwiftSage (GPT-4 assisted) (published)"


def test_a_reference_without_its_full_protocol_is_an_error(tmp_path) -> None:
    path = tmp_path / "refs.json"
    path.write_text(json.dumps({"references": [{"agent": "X", "source": "s", "protocol": {"split": "test"},
                                                "overall": 1}]}))
    with pytest.raises(ValueError, match="does not record"):
        load_references(PROTOCOLS["paper"].descriptor(), path)


def test_terminal_tables_fit_80_columns_and_keep_task_names_apart() -> None:
    agents = ["random", "oracle", "bc", "subgoal", "drrn", "ppo", "cola"]
    console = Console(width=80, record=True, color_system=None)
    print_tables(columns({a: [50.0] * 8 for a in agents}), title="quick", console=console)
    lines = console.export_text().splitlines()
    assert max(len(line) for line in lines) <= 80
    first_cells = [line.split()[0] for line in lines if line.strip().startswith("find-")]
    assert sorted(first_cells) == ["find-living-thing", "find-non-living-thing"]


def test_one_episode_per_task_prints_no_interval_rather_than_a_point() -> None:
    console = Console(width=80, record=True, color_system=None)
    print_tables(columns({"random": [0.0, 100.0, 0.0, 0.0], "mine": [100.0, 0.0, 100.0, 0.0]}),
                 title="quick", console=console)
    rows = {line.split()[0]: line for line in console.export_text().splitlines() if line.strip()}
    assert "25 [n/a]" in rows["random"] and "50 [n/a]" in rows["mine"]  # not "25 [25, 25]"


def test_report_combines_runs_and_refuses_disagreeing_ones(tmp_path, capsys) -> None:
    scores = columns({"random": [0.0] * 8, "mine": [100.0, 0.0] * 4})
    first = {name: results[:4] for name, results in scores.items()}
    second = {name: results[4:] for name, results in scores.items()}
    write_results(tmp_path / "a", first, {"protocol": "quick"})
    write_results(tmp_path / "b", second, {"protocol": "quick"})
    write_results(tmp_path / "again", first, {"protocol": "quick"})  # a reproduced run counts once
    combined, protocol = combine_runs([tmp_path / "a", tmp_path / "b", tmp_path / "again"])
    assert protocol == "quick" and len(combined["mine"]) == 8
    assert agent_statistics(combined) == agent_statistics(scores)

    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--out", str(tmp_path / "all")]) == 0
    printed = capsys.readouterr().out
    assert "mean [95% CI]" in printed and "vs random" in printed
    saved = json.loads((tmp_path / "all" / "results.json").read_text())
    assert saved["statistics"]["mine"]["mean"]["estimate"] == pytest.approx(50.0)

    disagreeing = {name: [episode(r.env_id, r.variation, 100.0 - r.normalized) for r in results]
                   for name, results in first.items()}
    write_results(tmp_path / "c", disagreeing, {"protocol": "quick"})
    with pytest.raises(ValueError, match="disagree"):
        combine_runs([tmp_path / "a", tmp_path / "c"])
    write_results(tmp_path / "d", second, {"protocol": "paper"})
    with pytest.raises(ValueError, match="different protocols"):
        combine_runs([tmp_path / "a", tmp_path / "d"])
    assert main(["report", str(tmp_path / "nothing")]) == 2
    assert "no episodes.csv" in capsys.readouterr().err
