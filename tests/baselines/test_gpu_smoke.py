"""benchmarks/gpu_smoke.py where no GPU exists: a clear skip message and exit status 0 (the GPU path
itself needs a CUDA machine)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[2] / "benchmarks" / "gpu_smoke.py"


@pytest.mark.skipif(torch.cuda.is_available(), reason="a GPU is here: the script would run for real")
def test_gpu_smoke_skips_cleanly_without_a_gpu() -> None:
    result = subprocess.run([sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("SKIP: no CUDA GPU here") and "nothing was run" in result.stdout
