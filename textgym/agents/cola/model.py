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
choice of latents, which is what makes the `K` latents an action space for RL. Generation keeps
KV caches for the trunk and the policy head (`CoLAModel.begin`, `extend`), as the paper's code
does, and talks to the host once per generated token for the whole batch (to stop early).
"""

from __future__ import annotations

import inspect
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


KeyValues = list[tuple[Tensor, Tensor]]
"""Per block of a `CausalHead`, the keys and values of the positions read so far, (B, heads, T, d/heads)."""


class CausalHead(nn.Module):
    """Causal Transformer blocks over trunk states, then K logits per position (IDM and policy).

    The blocks are `nn.TransformerEncoderLayer`s (pre-norm), run by `forward` itself so that it can
    keep their keys and values for incremental decoding and skip padding inside a sequence.
    """

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

    def forward(self, states: Tensor, keep: Tensor | None = None,
                past: KeyValues | None = None) -> tuple[Tensor, KeyValues]:
        """Logits (B, S, K) for `states` (B, S, d) and the keys/values of every position read.

        Args:
            states: trunk states of the new positions.
            keep: (B, T) which of all T positions (cached and new) may be attended to (None: all).
            past: keys/values of the positions before these (None: the states start the sequence).
        """
        x = self.project(states)
        batch, length, width = x.shape
        start = 0 if past is None else past[0][0].shape[2]
        mask = None
        if keep is not None or past is not None:
            causal = torch.ones(length, start + length, dtype=torch.bool, device=x.device).tril(start)
            mask = causal if keep is None else causal & keep[:, None, None, :].bool()
        cache: KeyValues = []
        for index, layer in enumerate(self.blocks.layers):
            attention = layer.self_attn
            heads = attention.num_heads
            query, key, value = (part.view(batch, length, heads, -1).transpose(1, 2) for part in
                                 F.linear(layer.norm1(x), attention.in_proj_weight,
                                          attention.in_proj_bias).chunk(3, dim=-1))
            if past is not None:
                key, value = torch.cat([past[index][0], key], 2), torch.cat([past[index][1], value], 2)
            cache.append((key, value))
            mixed = F.scaled_dot_product_attention(query, key, value, attn_mask=mask, is_causal=mask is None)
            x = x + attention.out_proj(mixed.transpose(1, 2).reshape(batch, length, width))
            x = x + layer.linear2(layer.activation(layer.linear1(layer.norm2(x))))
        return self.out(self.blocks.norm(x)), cache


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


@dataclass
class Decoding:
    """A batch of contexts being extended token by token: the trunk's and the policy head's caches.

    Contexts are right-padded when read, and new tokens go after the padding: `keep` masks the
    padding out and `positions` carries each row's true position, so every row reads exactly
    what it would read alone.
    """

    trunk_cache: Any
    head_cache: KeyValues | None
    keep: Tensor        # (B, T) bool: which cached positions are real tokens
    positions: Tensor   # (B,) the position the next token takes
    last: Tensor        # (B, d) the trunk state at each row's last token
    policy: Tensor | None  # (B, K) the policy's logits there (None when the policy is not read)


LatentChooser = Callable[[Tensor, "Tensor | None", int], Tensor]
"""`choose(policy_logits (B, K), tokens (B, K) or None, step) -> latents (B,)`: how a caller picks
latents while generating; `tokens[b, k]` is the token latent k would produce (computed only when
`generate` is asked for it: it costs K world-model rows per row), `step` counts the command's
tokens so far. Every row is asked at every step, also rows whose command has ended (their
choices are dropped), so a chooser must not let one row's draws depend on the others'."""


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
        return self.idm(states)[0][:, 1:]

    def policy_logits(self, states: Tensor) -> Tensor:
        """(B, T, K): row t scores the latent that will produce token t+1."""
        return self.policy(states)[0]

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
    def begin(self, contexts: Sequence[Sequence[int]], policy: bool = True) -> Decoding:
        """Read the contexts once, keeping the caches that `extend` adds tokens to."""
        ids, mask = self.pad(contexts)
        out = self.trunk.base_model(input_ids=ids, attention_mask=mask, use_cache=True)
        keep, last = mask.bool(), mask.sum(1) - 1
        rows = torch.arange(len(contexts), device=self.device)
        logits, head_cache = self.policy(out.last_hidden_state, keep) if policy else (None, None)
        return Decoding(_cache_of(out), head_cache, keep, last + 1, out.last_hidden_state[rows, last],
                        None if logits is None else logits[rows, last])

    @torch.no_grad()
    def extend(self, decoding: Decoding, tokens: Tensor) -> None:
        """Append one token (B,) to every context of `decoding`, in place."""
        decoding.keep = torch.cat([decoding.keep, torch.ones_like(decoding.keep[:, :1])], 1)
        out = self.trunk.base_model(input_ids=tokens[:, None], attention_mask=decoding.keep.long(),
                                    position_ids=decoding.positions[:, None], use_cache=True,
                                    **{_cache_argument(self.trunk.base_model): decoding.trunk_cache})
        decoding.trunk_cache = _cache_of(out)
        decoding.positions = decoding.positions + 1
        decoding.last = out.last_hidden_state[:, 0]
        if decoding.head_cache is not None:
            logits, decoding.head_cache = self.policy(out.last_hidden_state, decoding.keep,
                                                      decoding.head_cache)
            decoding.policy = logits[:, 0]

    @torch.no_grad()
    def generate(self, prompts: Sequence[Sequence[int]], choose: LatentChooser,
                 use_cache: bool = True, token_table: bool = False) -> list[Generated]:
        """One command per prompt: at each token `choose` picks latents from the policy's logits
        (knowing the token each latent gives when `token_table`) and the world model decodes
        greedily, until EOS or `max_command_tokens`.

        `use_cache=False` re-reads every whole context for every token (the reference the cached
        path is tested against, and the "before" of `benchmarks/cola_decoding.py`).
        """
        batch, cap = len(prompts), self.config.max_command_tokens
        tokens = torch.full((batch, cap), self.eos_id, dtype=torch.long, device=self.device)
        latents = torch.zeros((batch, cap), dtype=torch.long, device=self.device)
        lengths = torch.zeros(batch, dtype=torch.long, device=self.device)
        done = torch.zeros(batch, dtype=torch.bool, device=self.device)
        blank = torch.ones(batch, dtype=torch.bool, device=self.device)   # the command has no text yet
        decoding = self.begin(prompts) if use_cache else None
        for step in range(cap):
            if decoding is None:
                so_far = tokens[:, :step].tolist()
                states, last = self.read([[*p, *row] for p, row in zip(prompts, so_far, strict=True)])
                rows = torch.arange(batch, device=self.device)
                here, policy = states[rows, last], self.policy_logits(states)[rows, last]
            else:
                here, policy = decoding.last, decoding.policy
            if token_table:
                table = self.latent_tokens(here, blank)
                chosen = choose(policy, table, step)
                token = table.gather(1, chosen[:, None])[:, 0]
            else:
                chosen = choose(policy, None, step)
                token = self.next_tokens(here, chosen, blank)
            tokens[:, step], latents[:, step] = token, chosen
            lengths += ~done
            done = done | (token == self.eos_id)
            blank = blank & self.blank[token]
            if step + 1 == cap or bool(done.all()):   # the one sync per token: may we stop?
                break
            if decoding is not None:
                self.extend(decoding, token)
        return [Generated(row[:n], chosen_row[:n]) for row, chosen_row, n in
                zip(tokens.tolist(), latents.tolist(), lengths.tolist(), strict=True)]

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


def _cache_argument(model: nn.Module) -> str:
    """The keyword a Hugging Face model takes its KV cache by: "cache" (transformers >= 5.2x) or
    "past_key_values" (earlier)."""
    return "cache" if "cache" in inspect.signature(model.forward).parameters else "past_key_values"


def _cache_of(output: Any) -> Any:
    return output["cache"] if "cache" in output else output["past_key_values"]
