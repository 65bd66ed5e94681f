"""CoLA's three modules on a frozen causal LM trunk (Jia et al., ICML 2025; notes in `cola.md`).

- **Language world model**: the next token is a function of the context *and* a latent action
  `a` out of `K`: `logits = lm_head(Merge(h_t, codebook[a]))`, where `h_t` is the trunk's last
  hidden state and `Merge` is a stack of residual SwiGLU blocks over `[h ; e]`. The blocks'
  output projections start at zero, so an untrained world model *is* the trunk.
- **Inverse dynamics model** (IDM): `q(a_t | x_1..x_{t+1})`, a few causal Transformer blocks
  over the trunk states read at position t+1, so it sees exactly one future token. It labels
  each token with the latent that explains it.
- **Policy** `pi(a_t | x_1..x_t)`: the same kind of causal head, without the future token.

Decoding is greedy given the latent, as in the paper: all the randomness of generation is in the
choice of latents, which is what makes the `K` latents an action space for RL.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from textgym.agents.cola.text import PromptFormat, encode_prompt
from textgym.agents.cola.trunks import check_trunk, freeze, load_trunk
from textgym.spaces import to_printable
from textgym.validation import check_integer
from textgym.wrappers.latent import DECODER_FILE as CONFIG_FILE

HEADS_FILE = "heads.safetensors"
SAVED_TRUNK = "trunk"
"""`CoLAConfig.trunk` value for a trunk stored in the CoLA folder (the offline default)."""
STAGES = ("world-model", "policy", "rl")


@dataclass
class CoLAConfig:
    """Sizes of the CoLA modules and of what they read and write.

    Attributes:
        codes: K, the number of latent actions (the paper uses 64).
        trunk: "trunk" (stored in the CoLA folder), "smollm2", or a Hugging Face id/path.
        width: width of the IDM and policy heads (0: the trunk's hidden size).
        idm_layers, policy_layers, heads: causal Transformer blocks of the IDM and policy heads.
        merge_layers: residual SwiGLU blocks that merge a latent into the trunk state.
        merge_hidden: their hidden size (0: twice the trunk's hidden size).
        max_context: the longest prompt + command the trunk reads, in tokens.
        max_command_tokens: token cap of a command (EOS included).
        prompt: word budgets of the prompt fields (`PromptFormat`).
    """

    codes: int = 64
    trunk: str = SAVED_TRUNK
    width: int = 0
    idm_layers: int = 2
    policy_layers: int = 2
    heads: int = 4
    merge_layers: int = 2
    merge_hidden: int = 0
    max_context: int = 256
    max_command_tokens: int = 12
    prompt: PromptFormat = field(default_factory=PromptFormat)

    def __post_init__(self) -> None:
        try:
            check_integer("codes", self.codes, low=2)
        except ValueError as error:
            raise ValueError(f"Bad K: {error} The paper uses 64.") from None
        for name in ("width", "merge_hidden"):
            check_integer(name, getattr(self, name))
        for name in ("idm_layers", "policy_layers", "heads", "merge_layers"):
            check_integer(name, getattr(self, name), low=1)
        check_integer("max_command_tokens", self.max_command_tokens, low=2)
        check_integer("max_context", self.max_context, low=self.max_command_tokens + 1)
        if isinstance(self.prompt, dict):
            self.prompt = PromptFormat(**self.prompt)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CoLAConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"Unknown CoLA config keys {unknown}; known: {sorted(known)}.")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def pad(sequences: Sequence[Sequence[int]], pad_id: int, device: torch.device | str) -> tuple[Tensor, Tensor]:
    """Right-padded (B, T) ids and attention mask."""
    length = max(len(s) for s in sequences)
    ids = torch.full((len(sequences), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(sequences), length), dtype=torch.long)
    for row, sequence in enumerate(sequences):
        ids[row, : len(sequence)] = torch.as_tensor(sequence, dtype=torch.long)
        mask[row, : len(sequence)] = 1
    return ids.to(device), mask.to(device)


def token_log_probs(latent_log_probs: Tensor, tokens: Tensor, produced: Tensor) -> Tensor:
    """log P(token) under a latent policy: the probabilities of every latent that gives the produced
    token summed. `latent_log_probs` and `tokens` are (N, K) (latent -> its token), `produced` (N,)."""
    same = tokens == produced[:, None]
    return torch.logsumexp(latent_log_probs.masked_fill(~same, float("-inf")), dim=-1)


class CausalHead(nn.Module):
    """Causal Transformer blocks over trunk states, then K logits per position (IDM and policy)."""

    def __init__(self, trunk_width: int, width: int, layers: int, heads: int, codes: int) -> None:
        super().__init__()
        if width % heads:
            raise ValueError(f"The head width ({width}) must be a multiple of heads ({heads}).")
        self.project = nn.Sequential(nn.LayerNorm(trunk_width), nn.Linear(trunk_width, width))
        block = nn.TransformerEncoderLayer(width, heads, 4 * width, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.blocks = nn.TransformerEncoder(block, layers, norm=nn.LayerNorm(width),
                                            enable_nested_tensor=False)
        self.out = nn.Linear(width, codes)

    def forward(self, states: Tensor) -> Tensor:
        mask = nn.Transformer.generate_square_subsequent_mask(states.shape[1], device=states.device,
                                                              dtype=states.dtype)
        return self.out(self.blocks(self.project(states), mask=mask, is_causal=True))


class MergeBlock(nn.Module):
    """`s + SwiGLU([s ; e])`: puts a latent's embedding `e` into the trunk state `s`."""

    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.gate = nn.Linear(2 * width, hidden)
        self.up = nn.Linear(2 * width, hidden)
        self.down = nn.Linear(hidden, width)
        nn.init.zeros_(self.down.weight)  # starts as the identity: the world model begins as the trunk
        nn.init.zeros_(self.down.bias)

    def forward(self, state: Tensor, latent: Tensor) -> Tensor:
        both = torch.cat([state, latent], dim=-1)
        return state + self.down(F.silu(self.gate(both)) * self.up(both))


@dataclass
class Generated:
    """One generated command: its tokens (EOS included when reached) and the latent behind each."""

    tokens: list[int] = field(default_factory=list)
    latents: list[int] = field(default_factory=list)


LatentChooser = Callable[[Tensor, Tensor, list[int]], Tensor]
"""`choose(policy_logits (B, K), tokens (B, K), rows) -> latents (B,)`: how a caller picks latents
while generating; `tokens[b, k]` is the token latent k would produce, `rows` index the prompts."""


class CoLAModel(nn.Module):
    """A frozen causal LM trunk with CoLA's codebook, merge layers, inverse dynamics model and policy.

    Args:
        trunk: a Hugging Face causal LM (frozen here).
        tokenizer: its tokenizer (checked against the trunk's vocabulary).
        config: the module sizes (`CoLAConfig`).
    """

    def __init__(self, trunk: nn.Module, tokenizer: Any, config: CoLAConfig | None = None) -> None:
        super().__init__()
        config = config or CoLAConfig()
        check_trunk(trunk, tokenizer)
        self.config = config
        self.tokenizer = tokenizer
        self.trunk = freeze(trunk)
        self.stage = "world-model"
        width = trunk.get_output_embeddings().weight.shape[1]
        head_width = config.width or width
        self.codebook = nn.Embedding(config.codes, width)
        self.merge = nn.ModuleList(MergeBlock(width, config.merge_hidden or 2 * width)
                                   for _ in range(config.merge_layers))
        self.idm = CausalHead(width, head_width, config.idm_layers, config.heads, config.codes)
        self.policy = CausalHead(width, head_width, config.policy_layers, config.heads, config.codes)
        vocab = trunk.get_output_embeddings().weight.shape[0]
        self.eos_id = int(tokenizer.eos_token_id)
        self.pad_id = int(tokenizer.pad_token_id if tokenizer.pad_token_id is not None else self.eos_id)
        # Never generated: special tokens other than EOS, and LM-head rows the tokenizer does not use.
        banned = torch.zeros(vocab, dtype=torch.bool)
        banned[len(tokenizer):] = True
        banned[[i for i in tokenizer.all_special_ids if i != self.eos_id and i < vocab]] = True
        # Not allowed while the command is still blank: EOS and tokens with no printable text.
        pieces = tokenizer.batch_decode([[i] for i in range(len(tokenizer))])
        blank = torch.zeros(vocab, dtype=torch.bool)
        blank[[i for i, p in enumerate(pieces) if not to_printable(p, 64).strip()]] = True
        blank[self.eos_id] = True
        self.register_buffer("banned", banned, persistent=False)
        self.register_buffer("blank", blank | banned, persistent=False)

    # ------------------------------------------------------------------ the modules
    @property
    def device(self) -> torch.device:
        return self.codebook.weight.device

    @property
    def codes(self) -> int:
        return self.config.codes

    def train(self, mode: bool = True) -> CoLAModel:
        super().train(mode)
        self.trunk.eval()  # the trunk stays frozen: no dropout either
        return self

    def states(self, ids: Tensor, mask: Tensor) -> Tensor:
        """The trunk's last (final-norm) hidden states, (B, T, d); no gradient."""
        with torch.no_grad():
            return self.trunk.base_model(input_ids=ids, attention_mask=mask).last_hidden_state

    def trunk_logits(self, states: Tensor) -> Tensor:
        """The trunk's own next-token logits."""
        return self.trunk.get_output_embeddings()(states)

    def world_logits(self, states: Tensor, latents: Tensor) -> Tensor:
        """Next-token logits given trunk states (..., d) and latents: ids (...) or one-hots (..., K)."""
        embedded = latents @ self.codebook.weight if latents.is_floating_point() else self.codebook(latents)
        merged = states
        for block in self.merge:
            merged = block(merged, embedded)
        return self.trunk.get_output_embeddings()(merged)

    def idm_logits(self, states: Tensor) -> Tensor:
        """(B, T-1, K): row t scores the latent of the step from token t to token t+1 (read at t+1)."""
        return self.idm(states)[:, 1:]

    def policy_logits(self, states: Tensor) -> Tensor:
        """(B, T, K): row t scores the latent that will produce token t+1."""
        return self.policy(states)

    def world_model_parameters(self) -> list[nn.Parameter]:
        """What stage 1 trains: codebook, merge layers and IDM."""
        return [*self.codebook.parameters(), *self.merge.parameters(), *self.idm.parameters()]

    # ------------------------------------------------------------------ text in, commands out
    def pad(self, sequences: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
        """Right-padded ids and attention mask, on the model's device."""
        return pad(sequences, self.pad_id, self.device)

    def encode_prompt(self, prompt: str) -> list[int]:
        """Prompt ids, cut so that a full command still fits in `max_context`."""
        return encode_prompt(self.tokenizer, prompt, self.config.max_context - self.config.max_command_tokens)

    def read(self, contexts: Sequence[Sequence[int]]) -> tuple[Tensor, Tensor]:
        """Trunk states of the contexts, right-padded (causal attention makes padding harmless),
        and each context's last position."""
        ids, mask = self.pad(contexts)
        return self.states(ids, mask), mask.sum(1) - 1

    def next_tokens(self, last_states: Tensor, latents: Tensor, blank_so_far: Tensor) -> Tensor:
        """Greedy world-model tokens for (B, d) states and (B,) latents. A command still blank
        cannot end or grow by a blank token, so every command has printable text."""
        logits = self.world_logits(last_states, latents)
        logits = logits.masked_fill(self.banned, float("-inf"))
        logits = logits.masked_fill(blank_so_far[:, None] & self.blank, float("-inf"))
        return logits.argmax(-1)

    def latent_tokens(self, last_states: Tensor, blank_so_far: Tensor) -> Tensor:
        """(B, K): the greedy token each of the K latents gives from each state."""
        batch, codes = len(last_states), self.codes
        tokens = self.next_tokens(last_states.repeat_interleave(codes, 0),
                                  torch.arange(codes, device=self.device).repeat(batch),
                                  blank_so_far.repeat_interleave(codes, 0))
        return tokens.view(batch, codes)

    def command_text(self, tokens: Sequence[int]) -> str:
        """The command a token sequence spells (EOS and special tokens dropped), printable ASCII."""
        text = self.tokenizer.decode([t for t in tokens if t != self.eos_id], skip_special_tokens=True)
        return to_printable(text, 512).strip()

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], choose: LatentChooser) -> list[Generated]:
        """One command per prompt: at each token `choose` picks latents from the policy's logits
        (knowing the token each latent gives) and the world model decodes greedily, until EOS or
        `max_command_tokens`."""
        out = [Generated() for _ in prompts]
        active = list(range(len(prompts)))
        while active:
            states, last = self.read([[*prompts[i], *out[i].tokens] for i in active])
            rows = torch.arange(len(active), device=self.device)
            blank = torch.tensor([bool(self.blank[out[i].tokens].all()) for i in active], device=self.device)
            table = self.latent_tokens(states[rows, last], blank)
            latents = choose(self.policy_logits(states)[rows, last], table, active)
            tokens = table.gather(1, latents[:, None])[:, 0]
            for i, token, latent in zip(active, tokens.tolist(), latents.tolist(), strict=True):
                out[i].tokens.append(token)
                out[i].latents.append(latent)
            cap = self.config.max_command_tokens
            active = [i for i in active if out[i].tokens[-1] != self.eos_id and len(out[i].tokens) < cap]
        return out

    # ------------------------------------------------------------------ save / load
    def save(self, directory: str | Path) -> Path:
        """Write `cola.json`, the heads (safetensors), the tokenizer and, for our own trunk, the trunk."""
        from safetensors.torch import save_file

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        if self.config.trunk == SAVED_TRUNK:
            self.trunk.save_pretrained(directory / SAVED_TRUNK)
        self.tokenizer.save_pretrained(directory / "tokenizer")
        heads = {key: value.detach().cpu().contiguous() for key, value in self.state_dict().items()
                 if not key.startswith("trunk.")}
        save_file(heads, directory / HEADS_FILE)
        width = self.codebook.weight.shape[1]
        meta = {"format": 1, "class": f"{type(self).__module__}:{type(self).__qualname__}",
                "stage": self.stage, "config": self.config.to_dict(),
                "trunk_width": width, "trunk_vocab": int(self.banned.shape[0])}
        (directory / CONFIG_FILE).write_text(json.dumps(meta, indent=2))
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> CoLAModel:
        """Rebuild a saved model on `device`, with clear errors for a missing or corrupt folder."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        directory = Path(directory)
        path = directory / CONFIG_FILE
        if not path.is_file():
            raise FileNotFoundError(f"{directory} is not a CoLA model folder (no {CONFIG_FILE}); train one "
                                    "with `textgym train cola-world-model`.")
        try:
            meta = json.loads(path.read_text())
            config = CoLAConfig.from_dict(meta["config"])
            stage = meta["stage"]
        except (json.JSONDecodeError, UnicodeDecodeError, KeyError, TypeError) as error:
            raise ValueError(f"Corrupt CoLA config {path}: {error!r}") from error
        if stage not in STAGES:
            raise ValueError(f"Corrupt CoLA config {path}: unknown stage {stage!r}.")
        source = directory / SAVED_TRUNK if config.trunk == SAVED_TRUNK else config.trunk
        trunk, tokenizer = load_trunk(source, tokenizer=directory / "tokenizer", device=device)
        width = trunk.get_output_embeddings().weight.shape
        if (meta.get("trunk_vocab"), meta.get("trunk_width")) != tuple(width):
            raise ValueError(f"{directory} was trained on a trunk with vocabulary {meta.get('trunk_vocab')} "
                             f"and width {meta.get('trunk_width')}, but {source} has {width[0]} and "
                             f"{width[1]}.")
        model = cls(trunk, tokenizer, config)
        try:
            state = load_file(directory / HEADS_FILE)
        except (SafetensorError, OSError) as error:
            raise ValueError(f"Corrupt CoLA checkpoint {directory / HEADS_FILE}: {error}") from error
        try:
            missing, unexpected = model.load_state_dict(state, strict=False)
        except RuntimeError as error:
            raise ValueError(f"The CoLA checkpoint {directory / HEADS_FILE} does not fit its config: "
                             f"{error}") from error
        missing = [k for k in missing if not k.startswith("trunk.")]
        if missing or unexpected:
            raise ValueError(f"Corrupt CoLA checkpoint {directory / HEADS_FILE}: missing {missing[:5]}, "
                             f"unexpected {unexpected[:5]}.")
        model.stage = stage
        return model.to(device)
