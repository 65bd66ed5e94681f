"""Seq2seq imitation agents of Sub-goal Distillation (Hashemzadeh et al., 2024): behaviour cloning
on commands (`BCAgent`) and the hierarchical planner + executor (`SubgoalAgent`), with their
prompts, beam search and admissible-command fallback, and trainers (`train_bc`, `train_subgoal`).

Importing this package loads torch and transformers; `textgym` itself does not import it.
"""

from __future__ import annotations

from textgym.agents.seq2seq.agent import Seq2SeqAgent
from textgym.agents.seq2seq.bc import BCAgent
from textgym.agents.seq2seq.model import SCRATCH, CheckpointError, ScratchT5, Seq2SeqLM
from textgym.agents.seq2seq.prompts import PromptConfig
from textgym.agents.seq2seq.subgoal import SubgoalAgent
from textgym.agents.seq2seq.train_bc import BCTrainConfig, train_bc
from textgym.agents.seq2seq.train_subgoal import SubgoalTrainConfig, train_subgoal
from textgym.agents.seq2seq.training import Seq2SeqTrainConfig, prepare_data

__all__ = ["SCRATCH", "BCAgent", "BCTrainConfig", "CheckpointError", "PromptConfig", "ScratchT5",
           "Seq2SeqAgent", "Seq2SeqLM", "Seq2SeqTrainConfig", "SubgoalAgent", "SubgoalTrainConfig",
           "prepare_data", "train_bc", "train_subgoal"]
