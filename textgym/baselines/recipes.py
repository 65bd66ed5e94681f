"""How `textgym bench` trains its default agents at small scale, once, and caches them.

Each recipe trains on the *train* split of the protocol's envs (checkpoints picked on *dev*
where the trainer does that), never on the test variations the protocol evaluates. A recipe
returns the saved agent directory and a training record (the command line to repeat it, seconds,
model figures). Results are cached under `cache_dir()/bench/<protocol>-<envs digest>/<agent>/`;
`--retrain` ignores the cache and `--train-scale` multiplies every budget (0.05 for a smoke
test, 4 for stronger baselines). The budgets add up to about 25 minutes on a 2-core CPU.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgym.cache import cache_dir, read_json, write_json_atomic
from textgym.evaluation.protocols import Protocol

Log = Callable[[str], None]
RECORD_FILE = "train_record.json"

# Budgets at --train-scale 1, sized for the `quick` protocol on a 2-core CPU.
TRAIN_VARIATIONS, DEV_VARIATIONS = 10, 2  # gold episodes per env for the imitation agents
SEQ2SEQ_MINUTES = 4.0                     # per model (BC: one; sub-goal: planner and executor)
RL_STEPS = {"drrn": 2400, "ppo": 1536}    # env steps, 4 parallel envs
COLA_STEPS = {"trunk": 400, "world_model": 400, "policy": 300}  # optimizer steps, batch 32


@dataclass(frozen=True)
class BenchContext:
    """What a recipe needs to know: the envs it will be evaluated on, the device and the seed."""

    protocol: Protocol
    env_ids: tuple[str, ...]
    device: str = "cpu"
    seed: int = 0
    retrain: bool = False
    train_scale: float = 1.0

    @property
    def root(self) -> Path:
        """One folder per set of envs, seed and scale (each trains its own agents)."""
        key = f"{','.join(self.env_ids)}|seed={self.seed}|scale={self.train_scale:g}"
        return cache_dir() / "bench" / f"{self.protocol.name}-{hashlib.sha1(key.encode()).hexdigest()[:10]}"

    def cached(self, name: str, train: Callable[[Path], dict[str, Any]],
               log: Log) -> tuple[Path, dict[str, Any]]:
        """The agent `name` trained by `train(directory)` (which returns its record with the agent's
        path under "agent"), trained now unless cached."""
        directory = self.root / name
        record = read_json(directory / RECORD_FILE)
        if record is not None and not self.retrain:
            log(f"{name}: the cached default agent ({directory})")
            return directory / record["agent"], record
        log(f"{name}: training the default agent at small scale (first run; cached in {directory})")
        started = time.perf_counter()
        record = train(directory)
        record["seconds"] = round(time.perf_counter() - started, 1)
        write_json_atomic(directory / RECORD_FILE, record)
        return directory / record["agent"], record

    def imitation_data(self) -> dict[str, Path]:
        """Gold paths of the train and dev splits, plus their progress annotation (shared by BC,
        the sub-goal agent and CoLA)."""
        from textgym.agents.seq2seq.training import prepare_data

        variations = max(1, round(TRAIN_VARIATIONS * self.train_scale))
        return prepare_data(self.env_ids, self.root / "data", train_variations=variations,
                            dev_variations=DEV_VARIATIONS, workers=2, progress=False)


def _run_cli(arguments: list[str]) -> None:
    import argparse
    import importlib

    module = importlib.import_module(TRAINER_MODULES[arguments[1]])
    parser = argparse.ArgumentParser(prog=f"textgym train {arguments[1]}")
    module.configure(parser)
    if module.run(parser.parse_args(arguments[2:])) != 0:
        raise RuntimeError(f"`textgym {' '.join(arguments)}` failed.")


TRAINER_MODULES = {"cola-world-model": "textgym.agents.cola.train_world_model",
                   "cola-policy": "textgym.agents.cola.train_policy",
                   "drrn": "textgym.agents.drrn.train", "ppo": "textgym.agents.ppo.train"}


def bc(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
    """Behaviour cloning: a scratch T5 on the gold commands."""
    from textgym.agents.seq2seq import TrainConfig, train_bc

    def train(directory: Path) -> dict[str, Any]:
        data = context.imitation_data()
        config = TrainConfig(data=str(data["gold"]), dev_data=str(data["gold-dev"]), out=str(directory),
                             max_minutes=SEQ2SEQ_MINUTES * context.train_scale, device=context.device,
                             seed=context.seed, progress=False)
        train_bc(config)
        return {"agent": ".", "training": json.loads((directory / "training.json").read_text())["models"]}

    return context.cached("bc", train, log)


def subgoal(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
    """Sub-goal distillation: planner and executor on the progress-annotated gold paths."""
    from textgym.agents.seq2seq import SubgoalConfig, train_subgoal

    def train(directory: Path) -> dict[str, Any]:
        data = context.imitation_data()
        config = SubgoalConfig(data=str(data["annotated"]), dev_data=str(data["annotated-dev"]),
                               out=str(directory), max_minutes=SEQ2SEQ_MINUTES * context.train_scale,
                               device=context.device, seed=context.seed, progress=False)
        train_subgoal(config)
        return {"agent": ".", "training": json.loads((directory / "training.json").read_text())["models"]}

    return context.cached("subgoal", train, log)


def cola(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
    """CoLA: our own small trunk and world model on the gold text, then BC of the latent policy."""

    def train(directory: Path) -> dict[str, Any]:
        data = context.imitation_data()
        steps = {stage: str(max(20, round(n * context.train_scale))) for stage, n in COLA_STEPS.items()}
        common = ["--data", str(data["gold"]), "--eval-data", str(data["gold-dev"]),
                  "--device", context.device, "--seed", str(context.seed), "--quiet"]
        world_model = ["train", "cola-world-model", *common, "--out", str(directory / "world-model"),
                       "--trunk-steps", steps["trunk"], "--steps", steps["world_model"]]
        policy = ["train", "cola-policy", *common, "--world-model", str(directory / "world-model"),
                  "--out", str(directory / "agent"), "--steps", steps["policy"]]
        for arguments in (world_model, policy):
            _run_cli(arguments)
        command = " && ".join("textgym " + " ".join(arguments) for arguments in (world_model, policy))
        metrics = json.loads((directory / "agent" / "metrics.json").read_text())
        return {"agent": "agent", "command": command, "training": metrics}

    return context.cached("cola", train, log)


def _rl(algorithm: str, extra: list[str]) -> Callable[[BenchContext, Log], tuple[Path, dict[str, Any]]]:
    """A recipe that runs `textgym train ALGORITHM` on all the protocol's envs at once."""

    def recipe(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
        def train(directory: Path) -> dict[str, Any]:
            steps = max(64, round(RL_STEPS[algorithm] * context.train_scale))
            arguments = ["train", algorithm, *(a for env_id in context.env_ids for a in ("--env", env_id)),
                         "--total-steps", str(steps), "--num-envs", str(max(4, len(context.env_ids))),
                         "--seed", str(context.seed), "--device", context.device, "--out", str(directory),
                         "--quiet", *extra]
            _run_cli(arguments)
            summary = json.loads((directory / "summary.json").read_text())
            return {"agent": "agent", "command": "textgym " + " ".join(arguments), "training": summary}

        return context.cached(algorithm, train, log)

    recipe.__doc__ = f"`textgym train {algorithm}` on the protocol's envs together."
    return recipe


drrn = _rl("drrn", ["--max-candidates", "32"])
ppo = _rl("ppo", ["--max-candidates", "32", "--encoder", "tokens", "--n-steps", "64", "--batch-size", "64"])
