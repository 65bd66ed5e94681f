"""`textgym play`: an unknown id is gym.make's one-line error, not a traceback."""

from __future__ import annotations

import subprocess
import sys

import gymnasium as gym
import pytest

import textgym  # noqa: F401 - registers the ids


def test_unknown_id_prints_the_did_you_mean_line_and_exits_2() -> None:
    with pytest.raises(gym.error.Error) as made:
        gym.make("ScienceWorld/boill-v0")
    result = subprocess.run([sys.executable, "-m", "textgym.cli", "play", "ScienceWorld/boill-v0"],
                            input="quit\n", capture_output=True, text=True, timeout=120)
    assert result.returncode == 2
    assert result.stderr.strip() == f"textgym: error: {made.value}"
    assert "Did you mean: `boil`?" in result.stderr and "Traceback" not in result.stderr + result.stdout
