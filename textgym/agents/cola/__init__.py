"""CoLA (Jia et al., ICML 2025): a latent action space for language-model policies.

A frozen causal LM trunk, a codebook of K latent actions merged into its last hidden state (the
language world model), an inverse dynamics model that labels tokens with latents, and a policy
over latents, trained in three steps: `textgym train cola-world-model`, `cola-policy`, `cola-rl`.
`CoLAAgent` plays text envs with it; `textgym.wrappers.LatentActions` exposes the latents to any
RL library as a `Discrete(K)` or `MultiDiscrete([K] * L)` action space.
"""

from textgym.agents.cola.agent import CoLAAgent, Decision
from textgym.agents.cola.metrics import measure
from textgym.agents.cola.model import CoLAConfig, CoLAModel
from textgym.agents.cola.text import PromptFormat
from textgym.agents.cola.trunks import load_trunk, new_trunk

__all__ = ["CoLAAgent", "CoLAConfig", "CoLAModel", "Decision", "PromptFormat", "load_trunk", "measure",
           "new_trunk"]
