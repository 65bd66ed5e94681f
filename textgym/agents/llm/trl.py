"""LLM RL on textgym envs with TRL: GRPO over whole multi-turn `ChatView` episodes.

TRL's `GRPOTrainer` takes a `rollout_func(prompts, trainer)` that plays the episodes itself and
returns token ids. `ChatRollout` is one: each prompt of the training dataset names an episode
(`episode_dataset`; GRPO's sampler repeats it `num_generations` times), and each copy plays an
episode of the env through `ChatView`, sampling every reply from the policy being trained (the
k-th copy of a prompt in a batch plays with seed `seed + k`). An episode becomes one GRPO
completion: the policy's replies (trained on, `env_mask` 1) interleaved with the rendered user
turns that the env answered (`env_mask` 0, not trained on), and its return (the sum of the env's
rewards) goes to the reward function `episode_return`. The group of episodes of one prompt
starts from the same variation, so GRPO's group baseline compares replies in the same world.

    from trl import GRPOConfig, GRPOTrainer
    from textgym.agents.llm.trl import ChatRollout, episode_dataset, episode_return

    rollout = ChatRollout("TextWorldExpress/coin-v0", {"split": "train"}, max_turns=8)
    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=episode_return,
                          train_dataset=episode_dataset("TextWorldExpress/coin-v0", range(16)),
                          args=GRPOConfig(output_dir="grpo", num_generations=4, max_steps=100),
                          rollout_func=rollout)
    trainer.train()

Why TRL rather than `verifiers`: verifiers' multi-turn environments (`MultiTurnEnv`) fit the chat
view just as well, but its trainers generate through an inference server (vLLM) with weight
syncing, which needs a GPU; TRL's GRPOTrainer generates with the transformers model in-process,
so the same code trains on a CPU (as the test does) and on GPUs (`use_vllm=True` there).

Token bookkeeping: each turn's user text is the chat template's rendering of the conversation
after the reply minus the rendering before it, so the ids are exactly what the template would
produce for the whole conversation. Templates that rewrite earlier turns (some strip the
reasoning of past assistant turns) break that and raise a clear error.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import gymnasium as gym

from textgym.wrappers.chat import ChatView


def episode_dataset(env_id: str, variations: Iterable[int]) -> Any:
    """A `datasets.Dataset` whose prompts name the episodes to train on (one row per variation)."""
    from datasets import Dataset

    return Dataset.from_list([{"prompt": json.dumps({"env_id": env_id, "variation": int(v)})}
                              for v in variations])


def episode_return(completions: Sequence[Any], episode_return: Sequence[float], **kwargs: Any) -> list[float]:
    """GRPO reward function: the return of the episode each completion played."""
    return [float(value) for value in episode_return]


class ChatRollout:
    """A TRL `rollout_func` that plays `ChatView` episodes with the policy (see the module doc).

    Args:
        env_id: the env (a prompt may name another one with the same make keywords).
        make_kwargs: `gym.make` keywords (split, simplification, ...).
        max_turns: replies per episode.
        max_new_tokens: tokens per reply.
        style, max_commands: the `ChatView` prompt settings.
        seed: base of the episodes' seeds (the k-th copy of a prompt in a batch uses seed + k).
    """

    def __init__(self, env_id: str, make_kwargs: dict[str, Any] | None = None, max_turns: int = 8,
                 max_new_tokens: int = 32, style: str = "act", max_commands: int = 8, seed: int = 0) -> None:
        self.env_id, self.make_kwargs = env_id, dict(make_kwargs or {})
        self.max_turns, self.max_new_tokens = max_turns, max_new_tokens
        self.style, self.max_commands, self.seed = style, max_commands, seed
        self.envs: dict[str, ChatView] = {}

    def __call__(self, prompts: Sequence[Any], trainer: Any) -> dict[str, list]:
        model = trainer.accelerator.unwrap_model(trainer.model)
        tokenizer = trainer.processing_class
        temperature = float(getattr(trainer.args, "temperature", 1.0) or 1.0)
        output: dict[str, list] = {"prompt_ids": [], "completion_ids": [], "logprobs": [], "env_mask": [],
                                   "episode_return": []}
        seen: dict[str, int] = {}
        for prompt in prompts:  # GRPO's sampler repeats each prompt num_generations times
            text = prompt if isinstance(prompt, str) else prompt[-1]["content"]
            episode, copy = json.loads(text), seen.get(text, 0)
            seen[text] = copy + 1
            played = self.play(model, tokenizer, episode.get("env_id", self.env_id), episode["variation"],
                               self.seed + copy, temperature)
            for key, value in zip(output, played, strict=True):
                output[key].append(value)
        return output

    def env(self, env_id: str) -> ChatView:
        if env_id not in self.envs:
            env = gym.make(env_id, disable_env_checker=True, admissible_commands=True, **self.make_kwargs)
            self.envs[env_id] = ChatView(env, style=self.style, max_commands=self.max_commands,
                                         max_turns=self.max_turns)
        return self.envs[env_id]

    def close(self) -> None:
        for env in self.envs.values():
            env.close()
        self.envs = {}

    def play(self, model: Any, tokenizer: Any, env_id: str, variation: int, seed: int,
             temperature: float) -> tuple[list[int], list[int], list[float], list[int], float]:
        """One episode: (prompt ids, completion ids, their log-probabilities, env mask, return)."""
        import torch

        env = self.env(env_id)
        messages, _ = env.reset(seed=seed, options={"variation": variation})
        rendered = render(tokenizer, messages)
        prompt_ids = tokenizer(rendered, add_special_tokens=False)["input_ids"]
        completion, logprobs, mask, total = [], [], [], 0.0
        with torch.random.fork_rng(devices=[]):  # seeded sampling that leaves the caller's generator alone
            torch.manual_seed(seed)
            while True:
                reply_ids, reply_logprobs = sample(model, tokenizer, prompt_ids + completion,
                                                   self.max_new_tokens, temperature)
                completion += reply_ids
                logprobs += reply_logprobs
                mask += [1] * len(reply_ids)
                reply = tokenizer.decode(reply_ids, skip_special_tokens=True)
                messages, reward, terminated, truncated, _ = env.step(reply)
                total += float(reward)
                if terminated or truncated:
                    return prompt_ids, completion, logprobs, mask, total
                ended = bool(reply_ids) and reply_ids[-1] == tokenizer.eos_token_id
                turn_ids, rendered = user_turn_ids(tokenizer, messages, rendered, reply, ended)
                completion += turn_ids
                logprobs += [0.0] * len(turn_ids)
                mask += [0] * len(turn_ids)

def render(tokenizer: Any, messages: Sequence[dict[str, str]]) -> str:
    return tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True)


def user_turn_ids(tokenizer: Any, messages: Sequence[dict[str, str]], before: str, reply: str,
                  ended: bool) -> tuple[list[int], str]:
    """Ids of what the template adds after `reply` up to the next generation prompt, and the new
    rendering (see the module doc)."""
    after = render(tokenizer, messages)
    if not after.startswith(before + reply):
        raise ValueError("The chat template renders earlier turns differently once a turn is added, so the "
                         "episode cannot be one token sequence; use a model whose template appends turns.")
    text = after[len(before) + len(reply):]
    if ended and tokenizer.eos_token and text.startswith(tokenizer.eos_token):
        text = text[len(tokenizer.eos_token):]  # the policy already emitted the end of its turn
    return tokenizer(text, add_special_tokens=False)["input_ids"], after


def sample(model: Any, tokenizer: Any, context: list[int], max_new_tokens: int,
           temperature: float) -> tuple[list[int], list[float]]:
    """One sampled reply after `context` (up to and including the end-of-turn token) and the
    log-probability of each of its tokens."""
    import torch

    inputs = torch.tensor([context], device=model.device)
    with torch.no_grad():
        out = model.generate(inputs, attention_mask=torch.ones_like(inputs), max_new_tokens=max_new_tokens,
                             do_sample=True, temperature=temperature, top_k=0, top_p=1.0,
                             return_dict_in_generate=True, output_scores=True,
                             pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    ids = out.sequences[0, len(context):].tolist()
    logprobs = [float(torch.log_softmax(scores[0], dim=-1)[token])
                for scores, token in zip(out.scores, ids, strict=True)]
    if tokenizer.eos_token_id in ids:
        end = ids.index(tokenizer.eos_token_id) + 1
        ids, logprobs = ids[:end], logprobs[:end]
    return ids, logprobs
