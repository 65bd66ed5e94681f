"""`BCAgent`: behaviour cloning on elementary actions, the baseline of Sub-goal Distillation.

One seq2seq model reads the task, time and score, the last K steps (action, reward, observation),
the look, the inventory and the rooms visited (`prompts.bc_prompt`) and writes the next command;
beam search and the admissible fallback (`decoding`) turn its beams into a command the env accepts.
All parallel episodes share one batched beam search per step.

Train one with `textgym train bc --data GOLD --dev-data GOLD_DEV --out DIR` (or
`train_bc(BCTrainConfig(...))`) and evaluate it with `textgym eval --agent DIR`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textgym.agents.seq2seq.agent import Seq2SeqAgent
from textgym.agents.seq2seq.decoding import choose_for
from textgym.agents.seq2seq.model import Seq2SeqLM
from textgym.agents.seq2seq.prompts import PromptConfig, bc_prompt


class BCAgent(Seq2SeqAgent):
    """A seq2seq policy over commands (see `Seq2SeqAgent` for the shared arguments).

    Args:
        model: the trained `Seq2SeqLM`.
    """

    name = "bc"
    model_names = ("model",)

    def __init__(self, model: Seq2SeqLM, prompt: PromptConfig | dict[str, int] | None = None,
                 num_beams: int = 5, similarity: str = "minilm", max_new_tokens: int = 24,
                 device: str = "cpu") -> None:
        self.model = model.to(device)
        super().__init__(prompt, num_beams, similarity, max_new_tokens, device)

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(observations)) if slots is None else slots)
        memories = self._observe(observations, infos, slots)
        beams = self._generate(self.model, [bc_prompt(memory, self.prompt) for memory in memories])
        commands = [choose_for(row_beams, info, memory, self.similarity)
                    for row_beams, info, memory in zip(beams, infos, memories, strict=True)]
        return self._sent(slots, commands)
