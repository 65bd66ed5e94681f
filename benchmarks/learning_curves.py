"""Learning curves of MaskablePPO and DRRN, their training speed, and DRRN against the ScienceWorld paper.

Trains both RL baselines (`textgym train ppo|drrn`) on an easy fast game (TextWorldExpress coin,
20-step episodes, where a random agent wins ~12%) and on three ScienceWorld tasks (easy
simplification, train variations), then:

- draws one PNG per env (`<runs>/<env>.png`): each algorithm's training-episode score (0-100,
  mean of the last 20 episodes) against env steps, with the paper's DRRN score as a reference
  line on ScienceWorld (TensorBoard logs are in every run directory: `tensorboard --logdir <runs>`);
- prints env steps per second during training for every run;
- with `--eval`, scores each ScienceWorld DRRN agent (and the random agent) on the `paper`
  protocol (first 10 test variations, 100 steps) next to the paper's DRRN numbers.

Runs that already have a `summary.json` are not retrained (delete the directory to redo one).

    python benchmarks/learning_curves.py [--runs runs/curves] [--eval] [--scale 1.0]
                                         [--only 'ppo Science'] [--no-train]
"""

from __future__ import annotations

import argparse
import csv
import json
import subprocess
import sys
import time
from pathlib import Path

PAPER_DRRN = {"find-living-thing": 26, "chemistry-mix-paint-secondary-color": 29,
              "lifespan-longest-lived": 48}
"""DRRN's test scores (0-100) in the ScienceWorld paper (Wang et al., 2022, Table 2): ~100k steps, 8 envs."""

COIN = "TextWorldExpress/coin-v0"
COIN_OPTIONS = ["--max-episode-steps", "20", "--max-candidates", "32"]
RUNS: list[tuple[str, str, int, list[str]]] = [
    # (algorithm, env id, env steps, options); ScienceWorld: easy simplification, train variations
    *[(algorithm, f"ScienceWorld/{task}-v0", 1200, ["--max-candidates", "32", "--num-envs", "4"])
      for task in PAPER_DRRN for algorithm in ("drrn", "ppo")],
    ("drrn", COIN, 8000, [*COIN_OPTIONS, "--num-envs", "8", "--learning-starts", "200"]),
    ("ppo", COIN, 8000, [*COIN_OPTIONS, "--num-envs", "4", "--n-steps", "64"]),
]


def run_dir(root: Path, algorithm: str, env_id: str) -> Path:
    return root / algorithm / env_id.replace("/", "-")


def train(root: Path, scale: float, only: str) -> None:
    for algorithm, env_id, steps, extra in RUNS:
        out = run_dir(root, algorithm, env_id)
        if (out / "summary.json").is_file() or only not in f"{algorithm} {env_id}":
            continue
        out.mkdir(parents=True, exist_ok=True)
        command = [sys.executable, "-m", "textgym.cli", "train", algorithm, "--env", env_id,
                   "--out", str(out), "--total-steps", str(int(steps * scale)), *extra]
        print("$", " ".join(command[2:]), flush=True)
        started = time.perf_counter()
        with open(out / "train.log", "w") as log:
            subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=True)
        print(f"  done in {time.perf_counter() - started:.0f} s", flush=True)


def read_curve(out: Path, window: int = 20) -> tuple[list[int], list[float]]:
    with open(out / "episodes.csv") as file:
        rows = list(csv.DictReader(file))
    steps = [int(r["step"]) for r in rows]
    scores = [float(r["normalized"]) for r in rows]
    smoothed = [sum(scores[max(0, i - window + 1): i + 1]) / len(scores[max(0, i - window + 1): i + 1])
                for i in range(len(scores))]
    return steps, smoothed


def plot(root: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for env_id in dict.fromkeys(env_id for _, env_id, _, _ in RUNS):
        figure, axis = plt.subplots(figsize=(6, 4))
        for algorithm in ("drrn", "ppo"):
            out = run_dir(root, algorithm, env_id)
            if (out / "episodes.csv").is_file():
                axis.plot(*read_curve(out), label=algorithm.upper() if algorithm == "drrn" else "MaskablePPO")
        task = env_id.split("/", 1)[1].removesuffix("-v0")
        if task in PAPER_DRRN:
            axis.axhline(PAPER_DRRN[task], linestyle="--", color="gray",
                         label="DRRN, paper (test, 100k steps)")
        axis.set(title=env_id, xlabel="env steps", ylabel="training episode score (last 20, 0-100)",
                 ylim=(-2, 102))
        axis.legend()
        figure.tight_layout()
        path = root / f"{env_id.replace('/', '-')}.png"
        figure.savefig(path, dpi=100)
        plt.close(figure)
        print(f"wrote {path}")


def print_speed(root: Path) -> None:
    print(f"\n{'run':<62} {'steps':>7} {'seconds':>8} {'steps/s':>8} {'last-20 score':>14}")
    for algorithm, env_id, _, _ in RUNS:
        out = run_dir(root, algorithm, env_id)
        if (out / "summary.json").is_file():
            s = json.loads((out / "summary.json").read_text())
            print(f"{algorithm + ' ' + env_id:<62} {s['env_steps']:>7} {s['seconds']:>8} "
                  f"{s['steps_per_second']:>8} {s['last_20_episodes_score']:>14}")


def evaluate_drrn(root: Path) -> None:
    from textgym.agents import RandomAgent
    from textgym.agents.drrn import DRRNAgent
    from textgym.evaluation.evaluate import evaluate, protocol_episodes, summarize
    from textgym.evaluation.protocols import PROTOCOLS

    print(f"\n{'task (paper protocol: 10 test variations, easy, 100 steps)':<60} {'random':>7} "
          f"{'DRRN ours':>10} {'DRRN paper':>11}")
    for task, paper in PAPER_DRRN.items():
        env_id = f"ScienceWorld/{task}-v0"
        episodes = protocol_episodes(PROTOCOLS["paper"], [env_id])
        agent = DRRNAgent.load(run_dir(root, "drrn", env_id) / "agent")
        ours = summarize(evaluate(agent, episodes, num_envs=4))[env_id]["score"]
        rand = summarize(evaluate(RandomAgent(), episodes, num_envs=4))[env_id]["score"]
        print(f"{task:<60} {rand:>7.1f} {ours:>10.1f} {paper:>11}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", default="runs/curves", help="where the runs and PNGs go")
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every step budget")
    parser.add_argument("--only", default="",
                        help="train only the runs whose 'algorithm env-id' contains this (start several "
                        "scripts with different --only to train in parallel)")
    parser.add_argument("--no-train", action="store_true", help="only plot and tabulate the finished runs")
    parser.add_argument("--eval", action="store_true",
                        help="score the ScienceWorld DRRN agents on the paper protocol")
    args = parser.parse_args()
    root = Path(args.runs)
    if not args.no_train:
        train(root, args.scale, args.only)
    plot(root)
    print_speed(root)
    if args.eval:
        evaluate_drrn(root)


if __name__ == "__main__":
    main()
