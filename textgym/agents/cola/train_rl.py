"""`textgym train cola-rl`: RL in latent space, GRPO-style, with a KL penalty to the BC policy.

    textgym train cola-rl --agent runs/cola-bc --env ScienceWorld/find-living-thing-v0 \\
        --env ScienceWorld/find-non-living-thing-v0 --out runs/cola-rl

Each iteration draws a few training variations per env and plays each `--group` times with latents
*sampled* from the policy (the world model still decodes greedily, so every difference between
the episodes of a group comes from the latents). An episode's reward is its protocol score
(0-1); advantages are normalised within each group (GRPO: no value function), every latent of
an episode gets its episode's advantage, and the policy takes PPO-clip steps on the
log-probabilities of the *sampled latents*, log pi(a_t | x_1..x_t), plus `--kl` times the KL to
the frozen BC policy over the K latents. Only the policy changes: the trunk, world model and IDM
stay as stage 1 left them. Every `--eval-every` iterations the greedy agent (latent argmax) is
scored on held-out *dev* variations (never test: the score is there to compare and select);
`curve.json` (a row per iteration: the sampled training scores, and the dev ones when measured)
and TensorBoard keep the learning curves, and the folder (rewritten at each evaluation) is a
`CoLAAgent` like the BC one.

Where this departs from the paper's GRPO (`IntentionGrpoExperienceMaker`, see `cola.md`): the
reward is an env episode's score, not one completion's, so a group is a set of episodes on one
variation and all the latents of an episode share its advantage; the KL to the BC policy is the
exact KL over the K latents at every step, added to the loss, where the paper subtracts a sampled
estimate (log pi - log pi_BC of the drawn latent) from the reward; and the old log-probabilities
are those recorded while sampling (temperature 1, all K latents), not a re-scoring pass.
"""

from __future__ import annotations

import copy
import dataclasses
import random
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np
import torch
from tqdm import tqdm

from textgym.agents.cola.agent import CoLAAgent, Decision
from textgym.agents.cola.training import CoLATrainConfig
from textgym.agents.common.config import option
from textgym.agents.common.record import TrainedAgent, finish
from textgym.agents.common.seeding import seed_everything
from textgym.cache import write_json_atomic
from textgym.evaluation.evaluate import evaluate, protocol_episodes, summarize
from textgym.evaluation.protocols import PROTOCOLS, Protocol, get_protocol
from textgym.validation import check_integer, check_positive


@dataclass(kw_only=True)
class CoLARLTrainConfig(CoLATrainConfig):
    """Settings of `textgym train cola-rl`."""

    command: ClassVar[str] = "cola-rl"
    agent: str = option(help="a CoLA agent folder (from cola-policy or cola-rl)")
    env: tuple[str, ...] = option(metavar="ID", help="env id to train on (repeat it for a multi-task run)")
    out: str = option(help="folder to write the trained agent to")
    protocol: str = option("quick", choices=tuple(PROTOCOLS),
                           help="env settings and steps come from it; its held-out evaluations use the dev "
                                "split, never test (default: quick)")
    train_variations: int = option(20, help="train on the first N train variations per env")
    iterations: int = option(30, help="rollout + update rounds")
    variations_per_iteration: int = option(2, help="groups per env per iteration")
    group: int = option(8, help="episodes per variation, the GRPO group")
    max_steps: int = option(30, help="env commands per training episode")
    lr: float = option(1e-4, help="Adam learning rate of the policy")
    kl: float = option(0.05, help="weight of KL(policy || BC policy)")
    clip: float = option(0.2, help="PPO ratio clip")
    epochs: int = option(2, help="passes over each iteration's commands")
    minibatch: int = option(64, help="commands per gradient step")
    eval_every: int = option(5, help="iterations between held-out evaluations")
    eval_variations: int = option(5, help="first N dev variations per env for the held-out evaluations")
    eval_max_steps: int | None = option(None, help="env commands per eval episode (default: the protocol's)")
    num_envs: int = option(8, help="parallel episodes")

    def __post_init__(self) -> None:
        for name in ("train_variations", "iterations", "variations_per_iteration", "group", "max_steps",
                     "epochs", "minibatch", "eval_every", "eval_variations", "num_envs"):
            check_integer(name, getattr(self, name), low=1)
        check_positive("lr", self.lr)
        if self.group < 2:
            raise ValueError("--group must be at least 2: GRPO compares episodes within a group.")


def group_advantages(rewards: dict[int, float], groups: dict[tuple[str, int], list[int]]) -> dict[int, float]:
    """GRPO: each episode's reward minus its group's mean, over the group's std (0 if all equal)."""
    advantages = {}
    for seeds in groups.values():
        values = np.array([rewards[s] for s in seeds])
        spread = values.std()
        for seed, value in zip(seeds, values, strict=True):
            advantages[seed] = float((value - values.mean()) / spread) if spread > 1e-6 else 0.0
    return advantages


def policy_step_terms(agent: CoLAAgent, reference: torch.nn.Module,
                      decisions: list[Decision]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(log-prob of the sampled latent, KL to the reference policy, entropy), one per latent step.

    The action is the latent, as in the paper: RL acts in the latent space, and the gradient flows
    through log pi(sampled latent) only, even where other latents would have given the same token.
    """
    model = agent.model
    states, _ = model.read([[*d.prompt, *d.tokens] for d in decisions])
    logits = model.policy_logits(states)
    with torch.no_grad():
        reference_logits = reference(states)[0]
    rows = torch.cat([torch.full((len(d.latents),), i) for i, d in enumerate(decisions)]).to(model.device)
    # latent j of a command was chosen at the position of the token before its j-th token
    positions = torch.cat([torch.arange(len(d.latents)) + len(d.prompt) - 1 for d in decisions])
    positions = positions.to(model.device)
    chosen = torch.tensor([latent for d in decisions for latent in d.latents], device=model.device)
    log_probs = torch.log_softmax(logits[rows, positions], dim=-1)
    reference_log_probs = torch.log_softmax(reference_logits[rows, positions], dim=-1)
    kl = (log_probs.exp() * (log_probs - reference_log_probs)).sum(-1)
    entropy = -(log_probs.exp() * log_probs).sum(-1)
    return log_probs.gather(1, chosen[:, None])[:, 0], kl, entropy


def update_policy(agent: CoLAAgent, reference: torch.nn.Module, optimizer: torch.optim.Optimizer,
                  batch: list[tuple[Decision, float]], config: CoLARLTrainConfig,
                  rng: random.Random) -> dict[str, list[float]]:
    """`config.epochs` passes of PPO-clip + KL minibatch steps over (command, advantage) pairs.
    The statistics stay on the device until the update ends (one transfer, not one per step)."""
    model = agent.model
    model.train()
    stats: dict[str, list[torch.Tensor]] = defaultdict(list)
    for _ in range(config.epochs):
        rng.shuffle(batch)
        for start in range(0, len(batch), config.minibatch):
            part = batch[start:start + config.minibatch]
            decisions = [d for d, _ in part]
            new_logp, kl, entropy = policy_step_terms(agent, reference, decisions)
            old_logp = torch.tensor([x for d in decisions for x in d.logps], device=model.device)
            advantage = torch.tensor([a for d, a in part for _ in d.latents], device=model.device)
            ratio = torch.exp(new_logp - old_logp)
            clipped = torch.clamp(ratio, 1 - config.clip, 1 + config.clip)
            policy_loss = -torch.minimum(ratio * advantage, clipped * advantage).mean()
            loss = policy_loss + config.kl * kl.mean()
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            torch.nn.utils.clip_grad_norm_(model.policy.parameters(), 1.0)
            optimizer.step()
            for key, value in (("policy_loss", policy_loss), ("kl", kl.mean()), ("entropy", entropy.mean()),
                               ("ratio", ratio.mean()),
                               ("clip_fraction", ((ratio - 1).abs() > config.clip).float().mean())):
                stats[key].append(value.detach())
    model.eval()
    return {key: torch.stack(values).tolist() for key, values in stats.items()}


def train_cola_rl(config: CoLARLTrainConfig) -> TrainedAgent:
    """RL on the latent policy of `config.agent`; the agent is saved (at every evaluation) in `config.out`."""
    started = time.perf_counter()
    rng = seed_everything(config.seed)
    out = Path(config.out)
    protocol = get_protocol(config.protocol)
    envs = tuple(dict.fromkeys(config.env))
    learner = CoLAAgent.load(config.agent, device=config.device)
    model = learner.model
    explorer = CoLAAgent(model, device=config.device, sampling="sample", record=True)
    reference = copy.deepcopy(model.policy).requires_grad_(False).eval()   # the KL anchor: the BC policy
    model.stage = "rl"
    optimizer = torch.optim.Adam(model.policy.parameters(), lr=config.lr)
    writer = config.writer()

    on_envs = Protocol(name=f"{protocol.name}-cola-rl", description=protocol.description, env_ids=envs,
                       split="dev", variations_per_task=config.eval_variations,
                       max_steps=config.eval_max_steps or protocol.max_steps,
                       make_kwargs=protocol.make_kwargs)
    eval_episodes = protocol_episodes(on_envs, base_seed=config.seed)
    train_pool = protocol_episodes(dataclasses.replace(
        on_envs, split="train", variations_per_task=config.train_variations, max_steps=config.max_steps))
    curve: list[dict[str, float]] = []  # one row per iteration: train scores, and eval ones when measured

    def evaluate_greedy() -> dict[str, float]:
        model.eval()
        table = summarize(evaluate(learner, eval_episodes, num_envs=config.num_envs))
        learner.save(out)  # a checkpoint at every evaluation
        return {**{f"eval/{env_id}": table[env_id]["score"] for env_id in envs},
                "eval/overall": table["overall"]["score"]}

    def record(row: dict[str, float]) -> None:
        curve.append(row)
        for key, value in row.items():
            if key != "iteration":
                writer.add_scalar(key, value, row["iteration"])
        if "eval/overall" in row:
            tqdm.write("  ".join(f"{k}={v:.1f}" for k, v in row.items() if not k.startswith("train/")))
        write_json_atomic(out / "curve.json", curve)

    record({"iteration": 0, **evaluate_greedy()})
    for iteration in (bar := tqdm(range(1, config.iterations + 1), desc="cola-rl", dynamic_ncols=True,
                                  disable=not config.progress)):
        # 1. Rollouts: groups of episodes on the same variation, latents sampled.
        model.eval()
        chosen = [spec for env_id in envs for spec in rng.sample(
            [s for s in train_pool if s.env_id == env_id],
            min(config.variations_per_iteration, sum(s.env_id == env_id for s in train_pool)))]
        specs = [dataclasses.replace(spec, seed=iteration * 100_000 + n * config.group + g)
                 for n, spec in enumerate(chosen) for g in range(config.group)]
        explorer.episodes.clear()
        results = evaluate(explorer, specs, num_envs=config.num_envs)
        rewards = {r.seed: r.normalized / 100.0 for r in results}
        groups: dict[tuple[str, int], list[int]] = defaultdict(list)
        for r in results:
            groups[(r.env_id, r.variation)].append(r.seed)
        advantages = group_advantages(rewards, groups)
        batch = [(d, advantages[seed]) for seed, decisions in explorer.episodes.items() for d in decisions
                 if advantages[seed] != 0.0]

        # 2. PPO-clip on the sampled latents' log-probs, with the exact KL to the BC policy.
        stats = update_policy(explorer, reference, optimizer, batch, config, random.Random(rng.random()))

        with_signal = sum(1 for seeds in groups.values() if len({rewards[s] for s in seeds}) > 1)
        row = {"iteration": iteration,
               **{f"train/{env_id}": float(np.mean([r.normalized for r in results if r.env_id == env_id]))
                  for env_id in envs},
               "train/overall": float(np.mean([r.normalized for r in results])),
               "train/groups_with_signal": with_signal,
               **{f"train/{key}": float(np.mean(values)) for key, values in stats.items()}}
        bar.set_postfix(score=f"{row['train/overall']:.1f}", kl=f"{row.get('train/kl', 0.0):.4f}")
        if iteration % config.eval_every == 0 or iteration == config.iterations:
            row.update(evaluate_greedy())
        record(row)

    writer.close()
    first, last = curve[0]["eval/overall"], curve[-1]["eval/overall"]
    print(f"dev score: {first:.1f} (BC start) -> {last:.1f} after {config.iterations} iterations; "
          f"saved the agent to {out}")
    return finish(learner, out, out, config, steps=config.iterations, unit="iterations",
                  seconds=time.perf_counter() - started,
                  data={"envs": list(envs), "agent": config.agent, "protocol": config.protocol,
                        "train_variations": config.train_variations},
                  metrics={**curve[-1], "dev_score_bc_start": first, "dev_score_final": last,
                           "groups_with_signal": [row.get("train/groups_with_signal") for row in curve[1:]]})
