"""GPU smoke test: every baseline trains a few steps on CUDA and plays two episodes there.

For a machine with a CUDA GPU (none was available to this project: the script was checked by
reading and by its skip path). It:

1. trains each agent for a few steps with `--device cuda` (BC, sub-goal, DRRN, PPO, CoLA), on
   tiny data from two short ScienceWorld tasks;
2. while DRRN trains, samples `nvidia-smi` and checks that only the trainer holds a CUDA context:
   its env worker processes must hold none (they get the state encoder, never the network);
3. evaluates two episodes of each agent through `textgym eval --device cuda`, and the same two
   through the Ray backend with GPU-share actors (`--backend ray`'s code path);
4. prints throughput, CPU against GPU in the same run: evaluation episodes/s per agent and BC
   decoding tokens/s.

    python benchmarks/gpu_smoke.py            # about 3-5 minutes on one GPU

Without a GPU it prints why it skipped and exits 0.
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ENVS = ["ScienceWorld/find-living-thing-v0", "ScienceWorld/lifespan-longest-lived-v0"]
EVAL_ENV = ENVS[0]
ENV_ARGS = [argument for env_id in ENVS for argument in ("--env", env_id)]
TINY_T5 = ["--d-model", "64", "--d-ff", "128", "--layers", "1", "--heads", "2"]


def textgym(*arguments: str) -> None:
    """Run `textgym ARGUMENTS` in a subprocess (a fresh CUDA context, as a user's run)."""
    command = [sys.executable, "-m", "textgym.cli", *arguments]
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise SystemExit(f"FAILED: textgym {' '.join(arguments)}\n{result.stdout[-2000:]}\n"
                         f"{result.stderr[-4000:]}")


def cuda_pids() -> set[int]:
    """Processes that hold a CUDA context now (nvidia-smi's compute apps)."""
    out = subprocess.run(["nvidia-smi", "--query-compute-apps=pid", "--format=csv,noheader"],
                         capture_output=True, text=True, check=True).stdout
    return {int(line) for line in out.split() if line.strip().isdigit()}


def train_drrn_watching_workers(out: Path) -> None:
    """DRRN on CUDA with 2 env workers; fail if any worker process opens a CUDA context."""
    import psutil

    command = [sys.executable, "-m", "textgym.cli", "train", "drrn", *ENV_ARGS, "--total-steps", "96",
               "--num-envs", "2", "--learning-starts", "32", "--tokenizer-episodes", "1", "--device", "cuda",
               "--out", str(out), "--quiet"]
    trainer = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    offenders: set[int] = set()
    workers_seen: set[int] = set()

    def watch() -> None:
        while trainer.poll() is None:
            try:
                children = {p.pid for p in psutil.Process(trainer.pid).children(recursive=True)}
            except psutil.NoSuchProcess:
                return
            workers_seen.update(children)
            offenders.update(cuda_pids() & children)
            time.sleep(0.5)

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    stdout, stderr = trainer.communicate()
    watcher.join()
    if trainer.returncode != 0:
        raise SystemExit(f"FAILED: DRRN training on cuda\n{stdout[-2000:]}\n{stderr[-4000:]}")
    if offenders:
        raise SystemExit(f"FAILED: DRRN env workers {sorted(offenders)} hold a CUDA context")
    print(f"ok  DRRN trained on cuda; {len(workers_seen)} worker processes seen, none with a CUDA context")


def episodes_per_second(agent_dir: Path, device: str, backend: str = "local") -> float:
    from textgym.baselines.backends import run_episodes
    from textgym.evaluation.evaluate import protocol_episodes
    from textgym.evaluation.protocols import PROTOCOLS

    episodes = protocol_episodes(PROTOCOLS["quick"], [EVAL_ENV], variations_per_task=2)
    started = time.perf_counter()
    results = run_episodes(str(agent_dir), episodes, backend, num_envs=2, device=device)
    assert len(results) == 2
    return len(results) / (time.perf_counter() - started)


def decoding_tokens_per_second(agent_dir: Path, device: str) -> float:
    from textgym.agents.seq2seq import Seq2SeqLM

    lm = Seq2SeqLM.load(agent_dir / "model", device)
    prompts = ["Your task is to find a living thing. </s> What action should you do next? </s>"] * 32
    lm.generate(prompts[:2], num_beams=1, max_new_tokens=4)  # warm-up (CUDA kernels, allocator)
    started = time.perf_counter()
    beams = lm.generate(prompts, num_beams=5, max_new_tokens=16)
    seconds = time.perf_counter() - started
    return sum(len(lm.tokenizer(b[0])["input_ids"]) for b in beams) * 5 / seconds


def main() -> int:
    import torch

    if not torch.cuda.is_available():
        print("SKIP: no CUDA GPU here (torch.cuda.is_available() is False; torch "
              f"{torch.__version__}); nothing was run.")
        return 0
    started = time.perf_counter()
    print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}")
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch)
        from textgym.agents.seq2seq.training import prepare_data

        data = prepare_data(ENVS, root / "data", train_variations=2, dev_variations=1, progress=False)
        seq2seq = ["--max-steps", "5", "--batch-size", "8", "--eval-every", "5", "--device", "cuda",
                   "--quiet", *TINY_T5]
        textgym("train", "bc", "--data", str(data["gold"]), "--dev-data", str(data["gold-dev"]),
                "--out", str(root / "bc"), *seq2seq)
        textgym("train", "subgoal", "--data", str(data["annotated"]), "--dev-data",
                str(data["annotated-dev"]), "--out", str(root / "subgoal"), *seq2seq)
        train_drrn_watching_workers(root / "drrn")
        textgym("train", "ppo", *ENV_ARGS, "--total-steps", "128", "--num-envs", "2", "--n-steps", "64",
                "--batch-size", "64", "--encoder", "tokens", "--device", "cuda", "--out", str(root / "ppo"),
                "--quiet")
        cola = ["--data", str(data["gold"]), "--eval-data", str(data["gold-dev"]), "--device", "cuda",
                "--quiet"]
        textgym("train", "cola-world-model", *cola, "--out", str(root / "cola-wm"), "--trunk-steps", "5",
                "--steps", "5")
        textgym("train", "cola-policy", *cola, "--world-model", str(root / "cola-wm"), "--out",
                str(root / "cola"), "--steps", "5")
        agents = {"bc": root / "bc", "subgoal": root / "subgoal", "drrn": root / "drrn" / "agent",
                  "ppo": root / "ppo" / "agent", "cola": root / "cola"}
        print("ok  every agent trained a few steps on cuda")

        rows = []
        for name, directory in agents.items():
            textgym("eval", "--agent", str(directory), "--device", "cuda", "--env", EVAL_ENV,
                    "--variations", "2", "--num-envs", "2", "--out", str(root / "eval" / name))
            summary = json.loads((root / "eval" / name / "results.json").read_text())
            assert summary, f"{name}: empty results"
            gpu = episodes_per_second(directory, "cuda")
            on_ray = episodes_per_second(directory, "cuda", backend="ray")
            cpu = episodes_per_second(directory, "cpu")
            rows.append((name, cpu, gpu, on_ray))
        print("ok  two episodes of each agent through `textgym eval --device cuda` and the Ray backend")

        print("\nevaluation throughput, 2 episodes of", EVAL_ENV, "(episodes/s; the simulator dominates)")
        print(f"  {'agent':<8} {'cpu':>8} {'cuda':>8} {'cuda/cpu':>9} {'ray+cuda':>9}")
        for name, cpu, gpu, on_ray in rows:
            print(f"  {name:<8} {cpu:8.3f} {gpu:8.3f} {gpu / cpu:9.2f} {on_ray:9.3f}")
        worst = min(rows, key=lambda row: row[2] / row[1])
        print(f"  worst cuda/cpu: {worst[0]} {worst[2] / worst[1]:.2f}")
        cpu_tokens = decoding_tokens_per_second(agents["bc"], "cpu")
        gpu_tokens = decoding_tokens_per_second(agents["bc"], "cuda")
        print(f"\nBC beam-5 decoding, batch 32: cpu {cpu_tokens:.0f} tokens/s, cuda {gpu_tokens:.0f} "
              f"tokens/s ({gpu_tokens / cpu_tokens:.2f}x)")
    print(f"\ndone in {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
