from textgym.wrappers.candidates import CandidateActions, select_candidates
from textgym.wrappers.chat import ChatView
from textgym.wrappers.encoding import (
    EncodeDict,
    EncodeObservation,
    MiniLMEncoder,
    TextEncoder,
    TokenIdEncoder,
    build_env_tokenizer,
)
from textgym.wrappers.latent import LatentActions
from textgym.wrappers.subgoals import (
    SubgoalConditioned,
    SubgoalProgress,
    SubgoalTarget,
    targets_from_records,
)

__all__ = [
    "CandidateActions",
    "ChatView",
    "EncodeDict",
    "EncodeObservation",
    "LatentActions",
    "MiniLMEncoder",
    "SubgoalConditioned",
    "SubgoalProgress",
    "SubgoalTarget",
    "TextEncoder",
    "TokenIdEncoder",
    "build_env_tokenizer",
    "select_candidates",
    "targets_from_records",
]
