from textgym.wrappers.candidates import CandidateActions, select_candidates
from textgym.wrappers.encoding import (
    EncodeDict,
    EncodeObservation,
    MiniLMEncoder,
    TextEncoder,
    TokenIdEncoder,
    build_env_tokenizer,
)

__all__ = ["CandidateActions", "EncodeDict", "EncodeObservation", "MiniLMEncoder", "TextEncoder",
           "TokenIdEncoder", "build_env_tokenizer", "select_candidates"]

from textgym.wrappers.latent import LatentActions

__all__ += ["LatentActions"]

from textgym.wrappers.subgoals import (  # noqa: E402
    SubgoalConditioned,
    SubgoalProgress,
    SubgoalTarget,
    targets_from_records,
)

__all__ += ["SubgoalConditioned", "SubgoalProgress", "SubgoalTarget", "targets_from_records"]
