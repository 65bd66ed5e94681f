"""`textgym train ppo`: sb3-contrib's MaskablePPO on `EncodeDict(CandidateActions(env))`, unmodified.

This is the point of the wrappers: a stock `MaskablePPO("MultiInputPolicy", SubprocVecEnv(...))`
trains on any textgym id. The observation is a `Dict` of encoded texts (observation, task, look,
inventory) and the K encoded candidate commands; masks come from `CandidateActions.action_masks`
through the subprocesses.

    textgym train ppo --env TextWorldExpress/coin-v0 --total-steps 20000

writes `runs/ppo/<env>-s<seed>/`: `agent/` (`textgym eval --agent DIR`), `checkpoints/step_N/`,
`episodes.csv` and TensorBoard logs (SB3's `rollout/`, `train/` plus `charts/episode_score`).
"""

from __future__ import annotations

import argparse
import os
import time

from textgym.agents.common.rl import (
    EpisodeLog,
    add_run_arguments,
    check_run_arguments,
    env_factories,
    run_directory,
    run_tokenizer,
    write_summary,
)


def configure(parser: argparse.ArgumentParser) -> None:
    add_run_arguments(parser, total_steps=20_000, num_envs=4)
    parser.add_argument("--encoder", choices=("minilm", "tokens"), default="minilm",
                        help="text encoding: MiniLM sentence embeddings or word ids (default: minilm)")
    parser.add_argument("--fields", default="observation,task,look,inventory",
                        help="comma list of the encoded texts (default: %(default)s)")
    parser.add_argument("--max-length", type=int, default=64, help="word ids per text (--encoder tokens)")
    parser.add_argument("--n-steps", type=int, default=128, help="rollout length per env")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--n-epochs", type=int, default=4)
    parser.add_argument("--learning-rate", type=float, default=3e-4)
    parser.add_argument("--gamma", type=float, default=0.9)
    parser.add_argument("--ent-coef", type=float, default=0.01)


def run(args: argparse.Namespace) -> int:
    import torch
    from sb3_contrib import MaskablePPO
    from stable_baselines3.common.callbacks import BaseCallback
    from stable_baselines3.common.vec_env import SubprocVecEnv, VecMonitor

    from textgym.agents.ppo.agent import PPOAgent
    from textgym.wrappers.encoding import MiniLMEncoder, TokenIdEncoder, check_fields

    check_run_arguments(args)
    fields = check_fields([f.strip() for f in args.fields.split(",") if f.strip()])
    for name in ("n_steps", "batch_size", "n_epochs", "max_length"):
        if getattr(args, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be at least 1.")
    out = run_directory(args, "ppo")
    torch.set_num_threads(args.threads)
    os.environ["OMP_NUM_THREADS"] = str(args.threads)  # the env processes encode text with torch too
    if args.encoder == "tokens":
        encoder = TokenIdEncoder(run_tokenizer(args), args.max_length)
    else:
        encoder = MiniLMEncoder()
    agent = PPOAgent(encoder, fields, args.max_candidates, device=args.device)
    envs = VecMonitor(SubprocVecEnv(env_factories(args, agent.wrap), start_method="forkserver"))
    envs.seed(args.seed)
    model = MaskablePPO("MultiInputPolicy", envs, n_steps=args.n_steps, batch_size=args.batch_size,
                        n_epochs=args.n_epochs, learning_rate=args.learning_rate, gamma=args.gamma,
                        ent_coef=args.ent_coef, seed=args.seed, device=args.device, tensorboard_log=str(out))
    agent.model = model

    class Progress(BaseCallback):
        """Episode scores to episodes.csv and TensorBoard; periodic checkpoints of the whole agent."""

        def _on_training_start(self) -> None:
            self.log = EpisodeLog(out, self.logger.output_formats[-1].writer)
            self.lengths = [0] * args.num_envs
            self.last_checkpoint = 0

        def _on_step(self) -> bool:
            for i, (done, info) in enumerate(zip(self.locals["dones"], self.locals["infos"], strict=True)):
                self.lengths[i] += 1
                if done:
                    self.log.add(self.num_timesteps, info, self.lengths[i])
                    self.lengths[i] = 0
            if self.num_timesteps - self.last_checkpoint >= args.checkpoint_every:
                agent.save(out / "checkpoints" / f"step_{self.num_timesteps}")
                self.last_checkpoint = self.num_timesteps
            return True

        def _on_training_end(self) -> None:
            self.log.close()

    started = time.perf_counter()
    progress = Progress()
    try:
        model.learn(args.total_steps, callback=progress, progress_bar=not args.quiet, tb_log_name="ppo")
    finally:
        envs.close()
    agent.save(out / "agent")
    write_summary(out, model.num_timesteps, time.perf_counter() - started, progress.log)
    return 0
