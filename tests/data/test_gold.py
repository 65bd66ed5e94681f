"""`textgym data gold` on the real ScienceWorld simulator: records, parallel workers, resuming,
settings, corrupt files and bad arguments."""

from __future__ import annotations

import itertools

import pytest

from textgym.cli import main
from textgym.data.gold import build_gold, episode_files, episode_path, read_episode, resolve_env_ids
from textgym.data.records import GoldStep, episodes, load_steps

ENV_ID = "ScienceWorld/find-living-thing-v0"


@pytest.fixture(scope="module")
def gold_dir(tmp_path_factory):
    """Two variations replayed by two worker processes (one JVM each)."""
    out = tmp_path_factory.mktemp("gold")
    counts = build_gold([ENV_ID], out, max_variations=2, workers=2, progress=False)
    assert counts["planned"] == counts["written"] == 2 and counts["skipped"] == 0
    return out


def test_records_follow_the_schema_and_chain(gold_dir):
    files = episode_files(gold_dir)
    assert files == [episode_path(gold_dir, ENV_ID, 0), episode_path(gold_dir, ENV_ID, 1)]
    for path in files:
        steps = read_episode(path)
        assert all(set(step) == set(GoldStep.__annotations__) for step in steps)
        assert [s["step"] for s in steps] == list(range(len(steps)))
        assert all(s["split"] == "train" and s["task"] == "find-living-thing" for s in steps)
        assert all(a["next_observation"] == b["observation"] for a, b in itertools.pairwise(steps))
        assert steps[-1]["won"] and steps[-1]["done"] and not any(s["done"] for s in steps[:-1])
        assert steps[-1]["score"] == steps[-1]["max_score"] == 100
        start_score = steps[0]["score"] - steps[0]["reward"]
        assert sum(s["reward"] for s in steps) == steps[-1]["score"] - start_score
        assert all(s["valid_action_count"] > 10 and s["look"] and s["inventory"] for s in steps)
        assert any("focus on a living thing" in s["subgoals_completed"] for s in steps)
        assert all(s["subgoals"] and {"description", "done", "sequential"} <= set(s["subgoals"][0])
                   for s in steps)


def test_datasets_reads_the_folder(gold_dir):
    dataset = load_steps(gold_dir)
    assert dataset.num_rows == sum(len(read_episode(p)) for p in episode_files(gold_dir))
    assert [len(e) for e in episodes(dataset)] == [len(read_episode(p)) for p in episode_files(gold_dir)]


def test_an_interrupted_run_resumes_without_duplicates(gold_dir):
    path = episode_path(gold_dir, ENV_ID, 1)
    before = path.read_bytes()
    path.unlink()
    (path.parent / f".{path.name}.abc.tmp").write_bytes(before[:100])  # what a killed write leaves
    counts = build_gold([ENV_ID], gold_dir, max_variations=2, workers=1, progress=False)
    assert (counts["skipped"], counts["written"]) == (1, 1)
    assert path.read_bytes() == before  # gold paths are cached, replays deterministic
    assert episode_files(gold_dir) == [episode_path(gold_dir, ENV_ID, 0), path]


def test_other_settings_in_the_same_folder_are_refused(gold_dir):
    with pytest.raises(ValueError, match=r"other settings.*split"):
        build_gold([ENV_ID], gold_dir, split="dev", max_variations=1, progress=False)
    with pytest.raises(ValueError, match=r"other settings.*simplification"):
        build_gold([ENV_ID], gold_dir, simplification=None, max_variations=1, progress=False)


def test_corrupt_files_name_the_file_and_line(gold_dir, tmp_path):
    lines = episode_path(gold_dir, ENV_ID, 0).read_text().splitlines()
    broken = tmp_path / "broken.jsonl"
    broken.write_text("\n".join([*lines[:2], lines[2][:40], *lines[3:]]) + "\n")
    with pytest.raises(ValueError, match=rf"{broken}:3: not valid JSON"):
        read_episode(broken)
    broken.write_text("\n".join([*lines[:4], lines[4].replace('"action"', '"act"')]) + "\n")
    with pytest.raises(ValueError, match=rf"{broken}:5: step record lacks action"):
        read_episode(broken)
    broken.write_text("\n".join([lines[0], lines[2]]) + "\n")
    with pytest.raises(ValueError, match=r"not 0\.\.1"):
        read_episode(broken)
    broken.write_text("[1, 2]\n")
    with pytest.raises(ValueError, match=":1: expected a JSON object"):
        read_episode(broken)


def test_env_names_resolve_by_family_and_id():
    assert resolve_env_ids([ENV_ID, ENV_ID]) == [ENV_ID]
    assert len(resolve_env_ids(["ScienceWorld"])) == 30
    with pytest.raises(ValueError, match="Did you mean 'ScienceWorld/boil-v0'"):
        resolve_env_ids(["ScienceWorld/boil"])


@pytest.mark.parametrize("arguments, message", [
    (["--env", "ScienceWorld/nope-v0"], "Unknown env"),
    (["--env", ENV_ID, "--max-variations-per-task", "0"], "at least 1"),
    (["--env", ENV_ID, "--workers", "0"], "at least 1"),
    (["--env", ENV_ID, "--simplification", "hard"], "Unknown simplification 'hard'"),
])
def test_bad_arguments_are_one_line_errors(arguments, message, tmp_path, capsys):
    assert main(["data", "gold", *arguments, "--out", str(tmp_path / "out")]) == 2
    assert message in capsys.readouterr().err


def test_the_command_line_writes_and_resumes(gold_dir, capsys):
    assert main(["data", "gold", "--env", ENV_ID, "--max-variations-per-task", "2", "--out", str(gold_dir),
                 "--quiet"]) == 0
    assert "0 episodes written (0 steps, 0 won), 2 already there, 2 in all" in capsys.readouterr().out
