"""`textgym train drrn`: DRRN, Q-learning over the admissible commands, in one loop to read top to bottom.

The ScienceWorld paper trains DRRN for ~100k env steps with 8 parallel envs over the simulator's
valid actions; the defaults here are that recipe (every admissible command scored, softmax
exploration, one-step TD with a Huber loss, uniform replay, no target network, as in Hausknecht et
al.'s Jericho DRRN) with a smaller network and fewer steps, so that a CPU run ends in minutes
(`--hidden-dim 128 --embedding-dim 128 --batch-size 64 --total-steps 100000` is the paper's
scale, for a GPU). `--max-candidates K` scores K commands spread over verbs instead (cheaper on
CPUs). The envs send text commands; the agent picks them in this process, so the env workers hold
the state encoder only, never the network.

    textgym train drrn --env ScienceWorld/find-living-thing-v0 --total-steps 20000 --num-envs 8

writes `runs/drrn/<env>-s<seed>/`: `agent/` (evaluate it with `textgym eval --agent DIR`),
`checkpoints/step_N/`, `episodes.csv`, `summary.json`, the training record and TensorBoard logs
(`tensorboard --logdir runs`). From Python: `train_drrn(DRRNTrainConfig(env=(...,), ...))`.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np

from textgym.agents.common.config import option
from textgym.agents.common.logs import EpisodeLog, summary_writer
from textgym.agents.common.record import TrainedAgent, finish
from textgym.agents.common.rl import RLTrainConfig, env_factories, run_directory, run_tokenizer, write_summary
from textgym.agents.common.sampling import sample_actions
from textgym.agents.common.seeding import seed_everything
from textgym.validation import check_integer, check_non_negative


@dataclass(kw_only=True)
class DRRNTrainConfig(RLTrainConfig):
    """Settings of `textgym train drrn` (the run settings are `RLTrainConfig`'s)."""

    command: ClassVar[str] = "drrn"
    all_candidates: ClassVar[bool] = True
    max_candidates: int | None = option(None, help=(
        "K: score K admissible commands per state, spread over verbs (default: all of them)"))
    learning_rate: float = option(1e-4, help="Adam learning rate")
    gamma: float = option(0.9, help="discount (DRRN: 0.9)")
    batch_size: int = option(32, help="transitions per TD update")
    buffer_size: int = option(20_000, help="replay capacity in transitions")
    learning_starts: int = option(500, help="env steps before the first update")
    temperature: float = option(1.0, help="softmax exploration temperature (the saved agent acts greedily)")
    max_length: int = option(64, help="word ids per state text")
    candidate_length: int = option(12, help="word ids per command")
    hidden_dim: int = option(64, help="GRU and MLP width (the paper: 128)")
    embedding_dim: int = option(32, help="word embedding size (the paper: 128)")
    tokenizer_episodes: int = option(8, help="random episodes read to build the word vocabulary")

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("batch_size", "buffer_size", "max_length", "candidate_length", "hidden_dim",
                     "embedding_dim", "tokenizer_episodes"):
            check_integer(name, getattr(self, name), low=1)
        check_non_negative("temperature", self.temperature)


class ReplayBuffer:
    """Uniform replay of (state, command, reward, next state, its candidates, terminated).

    Commands are rows of the agent's `CommandTable`, so a transition keeps the next state's
    candidates (for max_a' Q(s', a')) as one small row array, however many there are.
    """

    def __init__(self, space: Any, capacity: int, rng: np.random.Generator) -> None:
        self.capacity, self.rng, self.size, self.position = capacity, rng, 0, 0
        self.states = {k: np.zeros((capacity, *s.shape), s.dtype) for k, s in space.spaces.items()}
        self.next_states = {k: np.zeros_like(v) for k, v in self.states.items()}
        self.next_candidates: list[np.ndarray] = [np.zeros(0, np.int64)] * capacity
        self.actions = np.zeros(capacity, np.int64)
        self.rewards = np.zeros(capacity, np.float32)
        self.terminated = np.zeros(capacity, np.float32)

    def add(self, states: dict, actions: np.ndarray, rewards: np.ndarray, next_states: dict,
            next_candidates: list[np.ndarray], terminated: np.ndarray) -> None:
        for row in range(len(actions)):
            i = self.position
            for key in self.states:
                self.states[key][i] = states[key][row]
                self.next_states[key][i] = next_states[key][row]
            self.next_candidates[i] = next_candidates[row]
            self.actions[i], self.rewards[i], self.terminated[i] = actions[row], rewards[row], terminated[row]
            self.position = (i + 1) % self.capacity
            self.size = min(self.size + 1, self.capacity)

    def sample(self, n: int) -> tuple[dict, np.ndarray, np.ndarray, dict, list[np.ndarray], np.ndarray]:
        idx = self.rng.integers(self.size, size=n)
        return ({k: v[idx] for k, v in self.states.items()}, self.actions[idx], self.rewards[idx],
                {k: v[idx] for k, v in self.next_states.items()}, [self.next_candidates[i] for i in idx],
                self.terminated[idx])


def train_drrn(config: DRRNTrainConfig) -> TrainedAgent:
    """Train a DRRN agent with `config`; it is saved in `OUT/agent`."""
    import gymnasium as gym
    import torch
    import torch.nn.functional as F
    from tqdm import tqdm

    from textgym.agents.drrn.agent import DRRNAgent

    out = run_directory(config, "drrn")
    seed_everything(config.seed, config.threads)
    rng = np.random.default_rng(config.seed)  # draws the candidates under max_candidates=K

    # Vocabulary from the envs' own text, then the agent (network + encoders) that we train; the
    # saved agent acts greedily, `temperature` only explores here.
    tokenizer = run_tokenizer(config, episodes=config.tokenizer_episodes)
    agent = DRRNAgent(tokenizer, max_candidates=config.max_candidates, max_length=config.max_length,
                      candidate_length=config.candidate_length, embedding_dim=config.embedding_dim,
                      hidden_dim=config.hidden_dim, device=config.device)
    network, table = agent.network, agent.commands
    optimizer = torch.optim.Adam(network.parameters(), lr=config.learning_rate)

    def candidate_rows(commands: Any) -> np.ndarray:
        return table.rows(agent.candidates(list(commands), rng))

    # Parallel envs, one process (and JVM) each, that take text commands and list every admissible
    # one in `info`; SAME_STEP autoreset hands back the next episode's first state at once, and the
    # finished episode's last state and info in `final_obs`/`final_info`.
    envs = gym.vector.AsyncVectorEnv(env_factories(config, agent.state_encoding(), candidates=False),
                                     autoreset_mode=gym.vector.AutoresetMode.SAME_STEP, context="forkserver")
    buffer = ReplayBuffer(envs.single_observation_space, config.buffer_size,
                          np.random.default_rng(config.seed))
    writer = summary_writer(out)
    log = EpisodeLog(out, writer)
    lengths = np.zeros(config.num_envs, dtype=np.int64)
    obs, infos = envs.reset(seed=config.seed)
    candidates = [candidate_rows(commands) for commands in infos["admissible_commands"]]
    started, last_checkpoint = time.perf_counter(), 0
    bar = tqdm(total=config.total_steps, desc=f"drrn {' '.join(config.env)}", unit="step", dynamic_ncols=True,
               disable=not config.progress)
    try:
        step = 0
        while step < config.total_steps:
            # ALGO LOGIC: act by softmax over Q of the candidates.
            with torch.no_grad():
                picks = sample_actions(agent.q_values(obs, candidates), config.temperature).cpu().numpy()
            actions = np.array([rows[i] for rows, i in zip(candidates, picks, strict=True)])
            next_obs, rewards, terminated, truncated, infos = envs.step(tuple(table.texts(actions)))
            step += config.num_envs
            lengths += 1

            # The stored next state of an ended episode is its last state, not the new episode's first.
            real_next = {k: v.copy() for k, v in next_obs.items()}
            next_candidates = [candidate_rows(commands) for commands in infos["admissible_commands"]]
            real_candidates = list(next_candidates)
            ended = np.logical_or(terminated, truncated)
            for i in np.flatnonzero(ended):
                final_info = {k: v[i] for k, v in infos["final_info"].items() if not k.startswith("_")}
                for k in real_next:
                    real_next[k][i] = infos["final_obs"][i][k]
                real_candidates[i] = (np.zeros(0, np.int64) if terminated[i]
                                      else candidate_rows(final_info["admissible_commands"]))
                log.add(step, final_info, int(lengths[i]))
                lengths[i] = 0
            buffer.add(obs, actions, rewards, real_next, real_candidates, terminated)
            obs, candidates = next_obs, next_candidates

            # ALGO LOGIC: one TD update per vector step: Q(s,a) -> r + gamma * max_a' Q(s',a').
            if step >= config.learning_starts and buffer.size >= config.batch_size:
                states, taken, reward, next_states, next_rows, done = buffer.sample(config.batch_size)
                with torch.no_grad():
                    next_q = agent.q_values(next_states, next_rows).max(-1).values
                    next_q = torch.nan_to_num(next_q, neginf=0.0)  # a state with no candidate is worth 0
                    target = torch.as_tensor(reward, device=config.device) + config.gamma * next_q * (
                        1 - torch.as_tensor(done, device=config.device))
                q = agent.q_taken(states, taken)
                loss = F.smooth_l1_loss(q, target)
                optimizer.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(network.parameters(), 5.0)
                optimizer.step()
                if step % (config.num_envs * LOG_EVERY) == 0:  # reading a loss waits for the device
                    writer.add_scalar("losses/td_loss", loss.item(), step)
                    writer.add_scalar("losses/q_values", q.mean().item(), step)

            sps = step / (time.perf_counter() - started)
            writer.add_scalar("charts/SPS", sps, step)
            bar.update(config.num_envs)
            bar.set_postfix(score=f"{log.recent():.1f}", sps=f"{sps:.1f}")
            if step - last_checkpoint >= config.checkpoint_every:
                agent.save(out / "checkpoints" / f"step_{step}")
                last_checkpoint = step
    finally:
        bar.close()
        envs.close()
        log.close()
        writer.close()
    agent.save(out / "agent")
    seconds = time.perf_counter() - started
    summary = write_summary(out, step, seconds, log)
    return finish(agent, out, out / "agent", config, steps=step, unit="env steps", seconds=seconds,
                  data=config.data(), metrics=summary)


LOG_EVERY = 25
"""Vector steps between loss logs."""
