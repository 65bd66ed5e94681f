"""`textgym data stats` on real gold and annotated ScienceWorld data, sound and damaged."""

from __future__ import annotations

import dataclasses
import json
import shutil

import pytest

from textgym.cli import main
from textgym.data.annotate import annotate_dataset, annotated_records, progress_segments
from textgym.data.gold import build_gold, check_manifest, episode_files, read_episode, write_episode
from textgym.data.stats import dataset_stats, segment_problem

ENV_ID = "ScienceWorld/find-living-thing-v0"


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    root = tmp_path_factory.mktemp("stats")
    build_gold([ENV_ID], root / "gold", max_variations=2, progress=False)
    annotate_dataset(root / "gold", root / "progress", progress=False)
    return root


def copy(folders, name, tmp_path):
    return shutil.copytree(folders / name, tmp_path / name)


def test_gold_folder(folders, tmp_path, capsys):
    stats = dataset_stats(folders / "gold")
    assert stats["kind"] == "gold" and stats["problems"] == []
    steps = sum(len(read_episode(p)) for p in episode_files(folders / "gold"))
    assert stats["tasks"]["overall"] == {"episodes": 2, "steps": steps, "won": 100.0}
    assert main(["data", "stats", str(folders / "gold"), "--json", str(tmp_path / "s.json")]) == 0
    assert "gold trajectories" in capsys.readouterr().out
    assert json.loads((tmp_path / "s.json").read_text())["tasks"][ENV_ID]["episodes"] == 2


def test_progress_annotation_covers_every_step(folders, capsys):
    stats = dataset_stats(folders / "progress")
    row = stats["tasks"][ENV_ID]
    segments = [read_episode(p)[-1]["segment"] + 1 for p in episode_files(folders / "progress")]
    assert row["coverage"] == 100.0 and row["segments_per_episode"] == sum(segments) / 2
    assert stats["annotator"] == "progress" and stats["problems"] == []
    assert row["repaired"] is None and row["llm_episodes"] == row["fallbacks"] == 0  # no LLM involved
    assert main(["data", "stats", str(folders / "progress")]) == 0
    assert "cover%" in capsys.readouterr().out


def test_llm_annotation_reports_repairs_and_fallbacks(folders, tmp_path):
    """Records as the llm annotator writes them: one episode with a repaired segment, one that
    fell back to progress (built with the annotator's own functions; no LLM is needed to count)."""
    out = tmp_path / "llm"
    check_manifest(out, {"kind": "annotated", "annotator": "llm", "source": str(folders / "gold")})
    first, second = (read_episode(p) for p in episode_files(folders / "gold"))
    segments = progress_segments(first)
    segments[0] = dataclasses.replace(segments[0], repaired=True)
    write_episode(out / "a.jsonl", annotated_records(first, segments, "llm"))
    write_episode(out / "b.jsonl", annotated_records(second, progress_segments(second), "progress"))
    row = dataset_stats(out)["tasks"]["overall"]
    assert (row["llm_episodes"], row["fallbacks"], row["coverage"]) == (1, 1, 100.0)
    assert row["repaired"] == pytest.approx(100.0 / len(segments))


def test_damaged_annotations_lower_coverage_and_name_the_file(folders, tmp_path, capsys):
    damaged = copy(folders, "progress", tmp_path)
    first, second = episode_files(damaged)
    records = read_episode(first)
    records[0]["end_of_subgoal"] = not records[0]["end_of_subgoal"]
    write_episode(first, records)
    second.unlink()
    stats = dataset_stats(damaged)
    assert stats["tasks"]["overall"]["coverage"] < 100.0
    assert stats["tasks"]["overall"]["missing"] == 1
    assert any(str(first) in p and "end_of_subgoal" in p for p in stats["problems"])
    assert any(p.endswith("not annotated") for p in stats["problems"])
    assert main(["data", "stats", str(damaged)]) == 1
    assert "problem" in capsys.readouterr().out


@pytest.mark.parametrize("change, message", [
    (lambda r: r[0].update(segment=5), "step 0 is in segment 5, expected 0"),
    (lambda r: r[0].update(subgoal=" "), "no sub-goal label"),
    (lambda r: r[0].pop("annotator"), "without segment fields"),
])
def test_segment_problems_are_explained(folders, change, message):
    records = read_episode(episode_files(folders / "progress")[0])
    assert segment_problem(records) == ""
    change(records)
    assert message in segment_problem(records)


def test_corrupt_or_missing_data_are_clear_errors(folders, tmp_path, capsys):
    corrupt = copy(folders, "gold", tmp_path)
    path = episode_files(corrupt)[0]
    path.write_text(path.read_text()[:-30] + "\n")
    with pytest.raises(ValueError, match=rf"{path}:\d+: not valid JSON"):
        dataset_stats(corrupt)
    assert main(["data", "stats", str(corrupt)]) == 2
    assert f"{path}:" in capsys.readouterr().err
    with pytest.raises(FileNotFoundError, match="not a folder"):
        dataset_stats(tmp_path / "nowhere")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"No \.jsonl episode files"):
        dataset_stats(tmp_path / "empty")
