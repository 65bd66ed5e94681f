"""Where textgym keeps what it computes once: gold paths, generated games, trained default agents.

The root is `$TEXTGYM_CACHE_DIR`, else `$XDG_CACHE_HOME/textgym`, else `~/.cache/textgym`. Writes
are atomic (a temporary file renamed into place), so two processes computing the same entry at
once both succeed and a reader never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import Any

import orjson

CACHE_VARIABLE = "TEXTGYM_CACHE_DIR"


def cache_dir() -> Path:
    """The cache root (created on first use)."""
    root = os.environ.get(CACHE_VARIABLE) or Path(
        os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "textgym"
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path


def write_bytes_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers see either the old file or the whole new one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: Path, obj: Any) -> None:
    write_bytes_atomic(path, orjson.dumps(obj, option=orjson.OPT_INDENT_2))


def read_json(path: Path) -> Any | None:
    """The JSON at `path`, or None when it is missing or unreadable (a corrupt entry is recomputed)."""
    try:
        return orjson.loads(path.read_bytes())
    except (FileNotFoundError, orjson.JSONDecodeError):
        return None
