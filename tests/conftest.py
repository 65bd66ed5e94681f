"""Shared test setup: a private cache and log folder per test session."""

from __future__ import annotations

import os

import pytest


@pytest.fixture(autouse=True, scope="session")
def private_cache(tmp_path_factory: pytest.TempPathFactory) -> None:
    """Gold paths, generated games and models go to a fresh folder, not the user's cache."""
    os.environ["TEXTGYM_CACHE_DIR"] = str(tmp_path_factory.mktemp("textgym-cache"))
    # SB3's `learn` without a log folder makes an empty `SB3-<time>` folder in the system temp dir.
    os.environ["SB3_LOGDIR"] = str(tmp_path_factory.mktemp("sb3-logs"))
