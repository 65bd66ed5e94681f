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
from pathlib import Path
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
    kept_steps,
    planner_prompt,
    same_text,
    subgoal_examples,
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
            self._plan([memories[row] for row in deciding], [slots[row] for row in deciding])
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

    def _plan(self, memories: Sequence[EpisodeMemory], slots: Sequence[int]) -> None:
        """Ask the planner, in one batch, and update each memory's sub-goals."""
        plans = self._generate(self.planner, [planner_prompt(memory, self.prompt) for memory in memories])
        for memory, beams in zip(memories, plans, strict=True):
            self._update_subgoals(memory, beams)

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


class OraclePlannerAgent(SubgoalAgent):
    """Diagnostic: the trained executor under the simulator's own sub-goal sequence (an oracle planner).

    `subgoals` maps each episode to evaluate, keyed by `(variation, gold path)`, to the labels of
    its annotated gold path in order (`oracle_subgoals` builds it from `textgym data annotate`
    output). The first label is current from t=0 and each `END_SG` of the executor moves to the
    next, as the trained planner is taught to. Its score beside `SubgoalAgent`'s says how many
    points the learned planner loses; beside BC's, what the executor does with perfect sub-goals.
    """

    name = "subgoal-oracle-planner"
    required_info = (*SubgoalAgent.required_info, "gold_path")

    def __init__(self, executor: Seq2SeqLM, subgoals: dict[tuple[Any, tuple[str, ...]], list[str]],
                 **settings: Any) -> None:
        super().__init__(planner=executor, executor=executor, **settings)
        self.oracle = subgoals

    def reset(self, num_envs: int = 1) -> None:
        super().reset(num_envs)
        self._labels: list[list[str]] = [[] for _ in range(num_envs)]

    def act_batch(self, observations: Sequence[str], infos: Sequence[dict[str, Any]],
                  slots: Sequence[int] | None = None) -> list[str]:
        slots = list(range(len(observations)) if slots is None else slots)
        for slot, info in zip(slots, infos, strict=True):
            if "gold_path" in info:  # the first step of an episode
                key = (info.get("variation"), tuple(info["gold_path"]))
                if key not in self.oracle:
                    raise KeyError(f"No oracle sub-goals for variation {key[0]} of {info['task'][:60]!r}: "
                                   "annotate its gold path and pass it to oracle_subgoals.")
                self._labels[slot] = self.oracle[key]
        return super().act_batch(observations, infos, slots)

    def _plan(self, memories: Sequence[EpisodeMemory], slots: Sequence[int]) -> None:
        for memory, slot in zip(memories, slots, strict=True):
            labels = self._labels[slot]
            ends = sum(step.action == END_SG for step in memory.steps)
            while len(memory.subgoals) < min(1 + ends, len(labels)):
                memory.subgoals.append(labels[len(memory.subgoals)])


def oracle_subgoals(annotated: str | Path) -> dict[tuple[Any, tuple[str, ...]], list[str]]:
    """`OraclePlannerAgent`'s table from an annotated dataset folder: for each episode, keyed by its
    variation and gold commands, the labels of its segments that keep a step (`kept_steps`)."""
    from textgym.data.gold import iter_episodes

    table = {}
    for _, records in iter_episodes(annotated, ()):
        labels: list[str] = []
        segments: set[int] = set()
        for record in kept_steps(records):
            if record["segment"] not in segments:
                segments.add(record["segment"])
                labels.append(record["subgoal"])
        table[(records[0]["variation"], tuple(r["action"] for r in records))] = labels
    return table


def planner_accuracy(planner: Seq2SeqLM, annotated: str | Path, prompt: PromptConfig,
                     num_beams: int = 1) -> dict[str, float]:
    """The planner's exact-match accuracy on the sub-goal decisions of annotated (dev) episodes:
    overall, at the `new` decisions (t=0 and after each END_SG: which sub-goal comes next) and at
    the `keep` ones (the current sub-goal again), with their counts."""
    from textgym.data.gold import iter_episodes

    new, keep = [], []
    for _, records in iter_episodes(annotated, ()):
        current = None
        for prompt_text, target in subgoal_examples(records, prompt)[0]:
            (keep if target == current else new).append((prompt_text, target))
            current = target
    scores = {}
    for name, examples in (("new", new), ("keep", keep)):
        hits = 0
        for start in range(0, len(examples), 32):
            chunk = examples[start:start + 32]
            beams = planner.generate([p for p, _ in chunk], num_beams=num_beams)
            hits += sum(same_text(b[0], t) for b, (_, t) in zip(beams, chunk, strict=True))
        scores[name], scores[f"{name}_count"] = hits / max(len(examples), 1), len(examples)
    scores["overall"] = (scores["new"] * len(new) + scores["keep"] * len(keep)) / max(len(new) + len(keep), 1)
    return scores
