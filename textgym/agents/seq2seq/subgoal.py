"""`SubgoalAgent`: the hierarchical agent of Sub-goal Distillation (Hashemzadeh et al., 2024).

Two seq2seq models distilled from sub-goal-annotated gold paths:

- the **planner** reads the context (task, time, score, history, look, inventory, rooms, the
  completed and current sub-goals) and writes the sub-goal to pursue now; at t=0 it answers the
  first-sub-goal prompt (the paper trains a third model for that prompt; here the planner learns
  it along with the others, which saves a training run);
- the **executor** reads the same context and writes the next command, or `END_SG` when the
  current sub-goal is done.

The inference loop follows the paper. Before every command the planner is consulted; when its
answer differs from the current sub-goal it becomes the new current one (`complete_task` never
replaces a sub-goal: the env, not the planner, ends the episode; nor does a blank answer). The
executor then decodes its beams; `END_SG` as the top beam enters the history with the observation
"The current subgoal is done." *without stepping the env*, and the planner and executor are asked
again, at most `max_subgoal_ends` times per command before the best other beam is sent. Each round is one
batched planner call and one batched executor call for all slots still deciding.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from textgym.agents.seq2seq.agent import Seq2SeqAgent
from textgym.agents.seq2seq.decoding import choose_for
from textgym.agents.seq2seq.model import Seq2SeqLM
from textgym.agents.seq2seq.prompts import (
    COMPLETE_TASK,
    END_SG,
    END_SG_OBSERVATION,
    EpisodeMemory,
    PromptConfig,
    executor_prompt,
    planner_prompt,
    same_text,
)
from textgym.data.tokenizer import words
from textgym.validation import check_integer


class SubgoalAgent(Seq2SeqAgent):
    """Planner + executor (see `Seq2SeqAgent` for the shared arguments).

    Args:
        planner: the trained sub-goal model.
        executor: the trained command model.
        max_subgoal_ends: `END_SG` rounds allowed before each env command.
    """

    name = "subgoal"
    model_names = ("planner", "executor")

    def __init__(self, planner: Seq2SeqLM, executor: Seq2SeqLM,
                 prompt: PromptConfig | dict[str, int] | None = None, num_beams: int = 5,
                 similarity: str = "minilm", max_new_tokens: int = 24, max_subgoal_ends: int = 2,
                 device: str = "cpu") -> None:
        check_integer("max_subgoal_ends", max_subgoal_ends)
        self.planner, self.executor = planner.to(device), executor.to(device)
        self.max_subgoal_ends = max_subgoal_ends
        super().__init__(prompt, num_beams, similarity, max_new_tokens, device)

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(observations)) if slots is None else slots)
        memories = self._observe(observations, infos, slots)
        commands: list[str | None] = [None] * len(slots)
        deciding = list(range(len(slots)))  # rows still without a command
        for round_ in range(self.max_subgoal_ends + 1):
            # 1. the planner, consulted before every executor decision
            plans = self._generate(self.planner, [planner_prompt(memories[r], self.prompt) for r in deciding])
            for row, beams in zip(deciding, plans, strict=True):
                self._update_subgoals(memories[row], beams)
            # 2. the executor: a command, or END_SG (recorded without stepping the env)
            prompts = [executor_prompt(memories[row], self.prompt) for row in deciding]
            beams = self._generate(self.executor, prompts)
            again = []
            for row, row_beams in zip(deciding, beams, strict=True):
                if same_text(row_beams[0], END_SG) and round_ < self.max_subgoal_ends:
                    memories[row].record(END_SG, 0.0, END_SG_OBSERVATION)
                    again.append(row)
                    continue
                actions = [beam for beam in row_beams if not same_text(beam, END_SG)] or row_beams
                commands[row] = choose_for(actions, infos[row], memories[row], self.similarity)
            deciding = again
            if not deciding:
                break
        return self._sent(slots, commands)

    @staticmethod
    def _update_subgoals(memory: EpisodeMemory, beams: Sequence[str]) -> None:
        """A new current sub-goal when the planner's answer differs (the first answer at t=0).

        A blank answer (no words: an untrained or truncated planner) keeps the current sub-goal;
        at t=0 the first non-blank beam is taken.
        """
        goals = [beam for beam in beams if words(beam) and not same_text(beam, COMPLETE_TASK)]
        if memory.subgoals:
            top = beams[0] if beams else ""
            if words(top) and not same_text(top, COMPLETE_TASK) and not same_text(top, memory.subgoals[-1]):
                memory.subgoals.append(top)
        elif goals:
            memory.subgoals.append(goals[0])

    def config(self) -> dict[str, Any]:
        return {**super().config(), "max_subgoal_ends": self.max_subgoal_ends}
