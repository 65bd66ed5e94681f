"""`textgym train ppo`: sb3-contrib's MaskablePPO on `EncodeDict(CandidateActions(env))`, unmodified.

This is the point of the wrappers: a stock `MaskablePPO("MultiInputPolicy", SubprocVecEnv(...))`
trains on any textgym id. The observation is a `Dict` of encoded texts (observation, task, look,
inventory) and the K encoded candidate commands; masks come from `CandidateActions.action_masks`
through the subprocesses.

    textgym train ppo --env TextWorldExpress/coin-v0 --total-steps 20000

writes `runs/ppo/<env>-s<seed>/`: `agent/` (`textgym eval --agent DIR`), `checkpoints/step_N/`,
`episodes.csv`, `summary.json`, the training record and TensorBoard logs (SB3's `rollout/`,
`train/` plus `charts/episode_score`). From Python: `train_ppo(PPOTrainConfig(env=(...,), ...))`.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from typing import ClassVar

from textgym.agents.common.config import option
from textgym.agents.common.logs import EpisodeLog
from textgym.agents.common.record import TrainedAgent, finish
from textgym.agents.common.rl import RLTrainConfig, env_factories, run_directory, run_tokenizer, write_summary
from textgym.agents.ppo.agent import DEFAULT_FIELDS, PPOAgent
from textgym.validation import check_integer
from textgym.wrappers.encoding import check_fields


def comma_list(text: str) -> tuple[str, ...]:
    """`"a, b,c"` -> `("a", "b", "c")`."""
    return tuple(part.strip() for part in text.split(",") if part.strip())


@dataclass(kw_only=True)
class PPOTrainConfig(RLTrainConfig):
    """Settings of `textgym train ppo` (the run settings are `RLTrainConfig`'s)."""

    command: ClassVar[str] = "ppo"
    num_envs: int = option(4, help="parallel envs, one process each")
    encoder: str = option("minilm", choices=("minilm", "tokens"),
                          help="text encoding: MiniLM sentence embeddings or word ids (default: minilm)")
    fields: tuple[str, ...] = option(DEFAULT_FIELDS, parse=comma_list,
                                     help="comma list of the encoded texts (default: observation,task,look,"
                                          "inventory)")
    max_length: int = option(64, help="word ids per text (--encoder tokens)")
    n_steps: int = option(128, help="rollout length per env")
    batch_size: int = option(64, help="minibatch size")
    n_epochs: int = option(4, help="passes over each rollout")
    learning_rate: float = option(3e-4, help="Adam learning rate")
    gamma: float = option(0.9, help="discount")
    ent_coef: float = option(0.01, help="entropy bonus")

    def __post_init__(self) -> None:
        super().__post_init__()
        self.fields = check_fields(self.fields)
        for name in ("n_steps", "batch_size", "n_epochs", "max_length"):
            check_integer(name, getattr(self, name), low=1)


def train_ppo(config: PPOTrainConfig) -> TrainedAgent:
    """Train a MaskablePPO agent with `config`; it is saved in `OUT/agent`."""
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecMonitor

    from textgym.wrappers.encoding import MiniLMEncoder, TokenIdEncoder

    out = run_directory(config, "ppo")
    torch.set_num_threads(config.threads)
    os.environ["OMP_NUM_THREADS"] = str(config.threads)  # the env processes encode text with torch too
    if config.encoder == "tokens":
        encoder = TokenIdEncoder(run_tokenizer(config), config.max_length)
    else:
        encoder = MiniLMEncoder()
    agent = PPOAgent(encoder, config.fields, config.max_candidates, device=config.device)
    envs = VecMonitor(SubprocVecEnv(env_factories(config, agent.wrap), start_method="forkserver"))
    envs.seed(config.seed)
    model = MaskablePPO("MultiInputPolicy", envs, n_steps=config.n_steps, batch_size=config.batch_size,
                        n_epochs=config.n_epochs, learning_rate=config.learning_rate, gamma=config.gamma,
                        ent_coef=config.ent_coef, seed=config.seed, device=config.device,
                        tensorboard_log=str(out))
    agent.model = model

    class Progress(BaseCallback):
        """Episode scores to episodes.csv and TensorBoard; periodic checkpoints of the whole agent."""

        def _on_training_start(self) -> None:
            self.log = EpisodeLog(out, self.logger.output_formats[-1].writer)
            self.lengths = [0] * config.num_envs
            self.last_checkpoint = 0

        def _on_step(self) -> bool:
            for i, (done, info) in enumerate(zip(self.locals["dones"], self.locals["infos"], strict=True)):
                self.lengths[i] += 1
                if done:
                    self.log.add(self.num_timesteps, info, self.lengths[i])
                    self.lengths[i] = 0
            if self.num_timesteps - self.last_checkpoint >= config.checkpoint_every:
                agent.save(out / "checkpoints" / f"step_{self.num_timesteps}")
                self.last_checkpoint = self.num_timesteps
            return True

        def _on_training_end(self) -> None:
            self.log.close()

    started = time.perf_counter()
    progress = Progress()
    try:
        model.learn(config.total_steps, callback=progress, progress_bar=config.progress, tb_log_name="ppo")
    finally:
        envs.close()
    agent.save(out / "agent")
    seconds = time.perf_counter() - started
    summary = write_summary(out, model.num_timesteps, seconds, progress.log)
    return finish(agent, out, out / "agent", config, steps=model.num_timesteps, unit="env steps",
                  seconds=seconds, data=config.data(), metrics=summary)
