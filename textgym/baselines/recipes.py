"""How `textgym bench` trains its default agents at small scale, once, and caches them.

Each recipe calls a trainer function (`train_bc(BCTrainConfig(...))`, ...) on the *train* split
of the protocol's envs (checkpoints picked on *dev* where the trainer does that), never on the
test variations the protocol evaluates, and returns the saved agent directory and the trainer's
training record (`textgym.agents.common.record`: the command line to repeat it, budget, seconds,
versions, metrics). An agent shipped with textgym for the same protocol, env set, seed and scale
(`textgym.baselines.shipped`: `baselines/trained/<key>/<agent>/`) is loaded first; otherwise results
are cached under `cache_dir()/bench/<key>/<agent>/`, `<key>` being `<protocol>-<envs digest>`;
`--retrain` ignores the shipped agents and the cache, and `--train-scale` multiplies every budget
(0.05 for a smoke test, 4 for stronger baselines; for the imitation agents it scales their gold
data). Every budget
is counted in steps, epochs or episodes, never in time, so the same seed on the same machine
trains the same agent. The budgets add up to about 25 minutes on a 2-core CPU.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from textgym.agents.common.record import RECORD_FILE, TrainedAgent
from textgym.baselines.shipped import shipped_agent
from textgym.cache import cache_dir, read_json, write_json_atomic
from textgym.evaluation.protocols import Protocol

Log = Callable[[str], None]

# Budgets at --train-scale 1, sized for the `quick` protocol on a 2-core CPU.
TRAIN_VARIATIONS, DEV_VARIATIONS = 10, 2  # gold episodes per env for the imitation agents
SEQ2SEQ_EPOCHS = 12.0                     # per model (BC: one; sub-goal: planner and executor)
SEQ2SEQ_MAX_STEPS = 600  # optimizer steps per model at most: `quick`'s 12 epochs take 84-288; the 30
#                          `paper` tasks' 12 epochs would take 2,145 (at --train-scale 0.5: 179 a
#                          pass), hours on this machine, so the cap decides there (300 at scale 0.5)
RL_STEPS = {"drrn": 2400, "ppo": 1536}    # env steps, 4 parallel envs
RL_MAX_ENVS = 8  # parallel envs (one JVM of ~0.5 GB each); more tasks than this take turns in them
COLA_STEPS = {"trunk": 400, "world_model": 400, "policy": 300}  # optimizer steps, batch 32
COLA_RL_ITERATIONS = 5                    # cola-rl rounds: 4 envs x a group of 8 episodes of 20 commands


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
    def key(self) -> str:
        """One name per protocol, set of envs, seed and scale (each trains its own agents): the
        folder of their cache and of their shipped copies."""
        settings = f"{','.join(self.env_ids)}|seed={self.seed}|scale={self.train_scale:g}"
        return f"{self.protocol.name}-{hashlib.sha1(settings.encode()).hexdigest()[:10]}"

    @property
    def root(self) -> Path:
        """The cache folder of this context's agents and their data."""
        return cache_dir() / "bench" / self.key

    def cached(self, name: str, train: Callable[[Path], TrainedAgent],
               log: Log) -> tuple[Path, dict[str, Any]]:
        """The agent `name`: the shipped one if textgym ships it for this key, else the cached one,
        else trained now by `train(directory)` (always trained with `retrain`): (the saved agent's
        folder, its training record)."""
        if not self.retrain:
            found = shipped_agent(self.key, name)
            if found is not None:
                log(f"{name}: the shipped trained agent ({found[0]})")
                return found
        directory = self.root / name
        record = read_json(directory / RECORD_FILE)
        if record is not None and not self.retrain:
            log(f"{name}: the cached default agent ({directory})")
            return directory / record["agent"], record
        log(f"{name}: training the default agent at small scale (first run; cached in {directory})")
        trained = train(directory)
        return trained.directory, trained.record

    @property
    def seq2seq_steps(self) -> int:
        """The imitation agents' cap on optimizer steps per model, scaled like their data."""
        return max(1, round(SEQ2SEQ_MAX_STEPS * self.train_scale))

    def imitation_data(self) -> dict[str, Path]:
        """Gold paths of the train and dev splits, plus their progress annotation (shared by BC,
        the sub-goal agent and CoLA)."""
        from textgym.agents.seq2seq.training import prepare_data

        variations = max(1, round(TRAIN_VARIATIONS * self.train_scale))
        return prepare_data(self.env_ids, self.root / "data", train_variations=variations,
                            dev_variations=DEV_VARIATIONS, workers=2, progress=False)


def bc(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
    """Behaviour cloning: a scratch T5 on the gold commands."""
    from textgym.agents.seq2seq import BCTrainConfig, train_bc

    def train(directory: Path) -> TrainedAgent:
        data = context.imitation_data()
        return train_bc(BCTrainConfig(
            data=str(data["gold"]), dev_data=str(data["gold-dev"]), out=str(directory),
            epochs=SEQ2SEQ_EPOCHS, max_steps=context.seq2seq_steps, device=context.device,
            seed=context.seed, progress=False))

    return context.cached("bc", train, log)


def subgoal(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
    """Sub-goal distillation: planner and executor on the progress-annotated gold paths."""
    from textgym.agents.seq2seq import SubgoalTrainConfig, train_subgoal

    def train(directory: Path) -> TrainedAgent:
        data = context.imitation_data()
        return train_subgoal(SubgoalTrainConfig(
            data=str(data["annotated"]), dev_data=str(data["annotated-dev"]), out=str(directory),
            epochs=SEQ2SEQ_EPOCHS, max_steps=context.seq2seq_steps, device=context.device,
            seed=context.seed, progress=False))

    return context.cached("subgoal", train, log)


def cola(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
    """CoLA: our own small trunk and world model on the gold text, BC of the latent policy, then RL
    over latents (`cola-rl`). The RL agent is shipped only if its greedy score on *dev* variations
    beats the BC start's; the record keeps both scores either way."""
    from textgym.agents.cola.train_policy import CoLAPolicyTrainConfig, train_cola_policy
    from textgym.agents.cola.train_rl import CoLARLTrainConfig, train_cola_rl
    from textgym.agents.cola.train_world_model import CoLAWorldModelTrainConfig, train_cola_world_model

    def train(directory: Path) -> TrainedAgent:
        data = context.imitation_data()
        steps = {stage: max(20, round(n * context.train_scale)) for stage, n in COLA_STEPS.items()}
        common = {"data": str(data["gold"]), "eval_data": str(data["gold-dev"]), "device": context.device,
                  "seed": context.seed, "progress": False}
        world_model = train_cola_world_model(CoLAWorldModelTrainConfig(
            **common, out=str(directory / "world-model"), trunk_steps=steps["trunk"],
            steps=steps["world_model"]))
        policy = train_cola_policy(CoLAPolicyTrainConfig(
            **common, world_model=str(world_model.directory), out=str(directory / "agent"),
            steps=steps["policy"]))
        iterations = max(1, round(COLA_RL_ITERATIONS * context.train_scale))
        rl = train_cola_rl(CoLARLTrainConfig(
            agent=str(policy.directory), env=context.env_ids, out=str(directory / "rl"),
            protocol=context.protocol.name, train_variations=TRAIN_VARIATIONS, iterations=iterations,
            variations_per_iteration=1, group=8, max_steps=20, eval_every=iterations, eval_variations=2,
            num_envs=2, device=context.device, seed=context.seed, progress=False))
        bc_dev, rl_dev = rl.record["metrics"]["dev_score_bc_start"], rl.record["metrics"]["dev_score_final"]
        chosen = rl if rl_dev > bc_dev else policy
        stages = (world_model, policy, rl)
        # One record for the three stages, where the bench looks for it.
        record = {**policy.record, "agent": chosen.directory.name,
                  "command": " && ".join(stage.record["command"] for stage in stages),
                  "budget": {"steps": world_model.record["budget"]["steps"] + steps["policy"],
                             "rl_iterations": iterations,
                             "unit": "optimizer steps (trunk + world model + policy), RL iterations"},
                  "seconds": round(sum(stage.record["seconds"] for stage in stages), 1),
                  "rl": {"dev_score_bc_start": bc_dev, "dev_score_after_rl": rl_dev,
                         "shipped": "rl" if chosen is rl else "bc policy (RL did not beat it on dev)",
                         "groups_with_signal": rl.record["metrics"]["groups_with_signal"]}}
        write_json_atomic(directory / RECORD_FILE, record)
        return TrainedAgent(chosen.agent, chosen.directory, record)

    return context.cached("cola", train, log)


def _rl(algorithm: str, **settings: Any) -> Callable[[BenchContext, Log], tuple[Path, dict[str, Any]]]:
    """A recipe that trains `algorithm` on all the protocol's envs at once, in at most
    `RL_MAX_ENVS` parallel envs (more tasks take turns in them: `TaskRotation`)."""

    def recipe(context: BenchContext, log: Log) -> tuple[Path, dict[str, Any]]:
        if algorithm == "drrn":
            from textgym.agents.drrn.train import DRRNTrainConfig as Config
            from textgym.agents.drrn.train import train_drrn as trainer
        else:
            from textgym.agents.ppo.train import PPOTrainConfig as Config
            from textgym.agents.ppo.train import train_ppo as trainer

        def train(directory: Path) -> TrainedAgent:
            steps = max(64, round(RL_STEPS[algorithm] * context.train_scale))
            return trainer(Config(env=context.env_ids, total_steps=steps,
                                  num_envs=max(4, min(len(context.env_ids), RL_MAX_ENVS)), seed=context.seed,
                                  device=context.device, out=str(directory), progress=False, **settings))

        return context.cached(algorithm, train, log)

    recipe.__doc__ = f"`textgym train {algorithm}` on the protocol's envs together."
    return recipe


drrn = _rl("drrn")  # every admissible command scored (DRRNTrainConfig.max_candidates=None)
ppo = _rl("ppo", max_candidates=32, encoder="tokens", n_steps=64, batch_size=64)
