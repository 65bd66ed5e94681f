"""`Seq2SeqLM`: a Hugging Face encoder-decoder and its tokenizer, as the imitation agents use them.

Two ways to get one:

- `Seq2SeqLM.pretrained("google/flan-t5-large")`: any Hugging Face seq2seq id or local path (the
  paper fine-tunes FLAN-T5-large; that needs hub access and, to be practical, a GPU).
- `Seq2SeqLM.scratch(texts, ScratchT5())`: the offline default, a small T5 with a word-level
  tokenizer built from the training prompts and targets (the env's own text), trained from scratch.

Both save with `save_pretrained` (model and tokenizer in one folder) and load back with
`Seq2SeqLM.load`, which turns a missing or corrupt checkpoint into one clear error.
`generate` runs one batched beam search for all prompts and returns every beam as text.

    >>> lm = Seq2SeqLM.scratch(["go to kitchen", "open door to kitchen"], ScratchT5(d_model=16, d_ff=32,
    ...                        num_layers=1, num_heads=2))
    >>> lm.num_parameters() > 0, len(lm.generate(["go to", "open door"], num_beams=2, max_new_tokens=3)[0])
    (True, 2)
"""

from __future__ import annotations

import inspect
import json
import numbers
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from transformers import DynamicCache, EncoderDecoderCache

from textgym.agents.common.config import option
from textgym.data.tokenizer import build_word_tokenizer
from textgym.validation import check_integer

SCRATCH = "scratch"
"""The `--model` value of the offline default (a small T5 trained from scratch)."""


@dataclass(frozen=True)
class ScratchT5:
    """Size of the T5 trained from scratch (the defaults train in minutes on a CPU core).

    Attributes:
        d_model, d_ff, num_layers, num_heads: the transformer (encoder and decoder alike).
        dropout: dropout rate.
        min_frequency: words seen fewer times in the training text become `<unk>`.
    """

    d_model: int = 128
    d_ff: int = 512
    num_layers: int = option(2, flag="--layers", help="encoder and decoder layers")
    num_heads: int = option(4, flag="--heads", help="attention heads")
    dropout: float = 0.1
    min_frequency: int = 1

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name == "dropout":
                if not isinstance(value, numbers.Real) or not 0 <= value < 1:
                    raise ValueError(f"ScratchT5.dropout must be in [0, 1), got {value!r}.")
            else:
                check_integer(f"ScratchT5.{name}", value, low=1)
        if self.d_model % self.num_heads:
            raise ValueError(f"ScratchT5.d_model ({self.d_model}) must be a multiple of num_heads "
                             f"({self.num_heads}).")


class BeamSharedCrossAttentionCache(EncoderDecoderCache):
    """An encoder-decoder cache whose beam reordering skips the cross-attention keys and values.

    Beam search reorders the cache after every token so each beam carries its parent's state. The
    cross-attention part is the encoder's output, copied once per beam of the same prompt, and a
    beam's parent is always a beam of the same prompt: reordering it rewrites every row with an
    identical copy. Skipping that copy (the largest tensor in the cache, prompt length x beams)
    made the bench agents' beam searches 10-14% faster on an idle CPU, more where memory is busy
    (`benchmarks/seq2seq_decoding.py`), and the beams are the same to the bit
    (tests/agents/test_seq2seq.py compares them with stock `generate`).
    """

    @classmethod
    def empty(cls, config: Any) -> BeamSharedCrossAttentionCache:
        return cls(DynamicCache(config=config), DynamicCache(config=config))

    def reorder_cache(self, beam_idx: torch.LongTensor) -> None:
        self.self_attention_cache.reorder_cache(beam_idx)


class CheckpointError(ValueError):
    """A saved model folder that cannot be loaded."""


class Seq2SeqLM:
    """A seq2seq model and its tokenizer on one device.

    Args:
        model: a `transformers` encoder-decoder (`T5ForConditionalGeneration`, ...).
        tokenizer: its tokenizer.
        max_input_tokens: prompts are cut to this many tokens, keeping their start (the task).
        device: where the model runs.
    """

    def __init__(self, model: Any, tokenizer: Any, max_input_tokens: int = 512, device: str = "cpu") -> None:
        self.model = model.to(device)
        self.tokenizer = tokenizer
        self.tokenizer.truncation_side = "right"  # prompts start with the task, end with a fixed question
        self.max_input_tokens = int(max_input_tokens)
        self.device = device

    # ---------------------------------------------------------------------------------- building
    @classmethod
    def scratch(cls, texts: Iterable[str], config: ScratchT5 | None = None, max_input_tokens: int = 512,
                device: str = "cpu") -> Seq2SeqLM:
        """A new small T5 whose word-level vocabulary comes from `texts` (prompts and targets)."""
        from transformers import T5Config, T5ForConditionalGeneration

        config = config or ScratchT5()
        tokenizer = build_word_tokenizer(texts, min_frequency=config.min_frequency,
                                         model_max_length=max_input_tokens)
        t5 = T5Config(vocab_size=len(tokenizer), d_model=config.d_model, d_ff=config.d_ff,
                      d_kv=config.d_model // config.num_heads, num_layers=config.num_layers,
                      num_decoder_layers=config.num_layers, num_heads=config.num_heads,
                      dropout_rate=config.dropout, feed_forward_proj="gated-gelu",
                      tie_word_embeddings=True, pad_token_id=tokenizer.pad_token_id,
                      eos_token_id=tokenizer.eos_token_id, decoder_start_token_id=tokenizer.pad_token_id)
        return cls(T5ForConditionalGeneration(t5), tokenizer, max_input_tokens, device)

    @classmethod
    def pretrained(cls, name_or_path: str, max_input_tokens: int = 512, device: str = "cpu") -> Seq2SeqLM:
        """Any Hugging Face seq2seq model id or local folder (FLAN-T5, T5, BART...)."""
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer

        try:
            tokenizer = AutoTokenizer.from_pretrained(name_or_path)
            model = AutoModelForSeq2SeqLM.from_pretrained(name_or_path)
        except (OSError, ValueError) as error:
            reason = str(error).rstrip(".")
            raise CheckpointError(f"Cannot load the seq2seq model {name_or_path!r}: {reason}. Give a Hugging "
                                  f"Face seq2seq id (with hub access) or a local folder, or "
                                  f"--model {SCRATCH} to train a small T5 offline.") from error
        return cls(model, tokenizer, max_input_tokens, device)

    # ---------------------------------------------------------------------------------- files
    def save(self, directory: str | Path) -> Path:
        """`save_pretrained` of model and tokenizer, plus the input length, in `directory`."""
        from transformers.utils import logging

        logging.disable_progress_bar()  # one bar per shard is noise in a training log
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        self.model.save_pretrained(directory)
        self.tokenizer.save_pretrained(directory)
        (directory / "seq2seq.json").write_text(json.dumps({"max_input_tokens": self.max_input_tokens}))
        return directory

    @classmethod
    def load(cls, directory: str | Path, device: str = "cpu") -> Seq2SeqLM:
        """A model saved by `save`; a missing or corrupt folder is a `CheckpointError` naming it."""
        from transformers import AutoModelForSeq2SeqLM, AutoTokenizer
        from transformers.utils import logging

        logging.disable_progress_bar()
        directory = Path(directory)
        meta_path = directory / "seq2seq.json"
        if not meta_path.is_file():
            raise CheckpointError(f"No seq2seq checkpoint in {directory} (it has no seq2seq.json): train one "
                                  f"with `textgym train bc` or `textgym train subgoal`.")
        try:
            meta = json.loads(meta_path.read_text())
            tokenizer = AutoTokenizer.from_pretrained(directory)
            model = AutoModelForSeq2SeqLM.from_pretrained(directory)
        except Exception as error:  # safetensors, json and transformers raise many types
            raise CheckpointError(f"Corrupt seq2seq checkpoint in {directory}: {type(error).__name__}: "
                                  f"{error}".strip()) from error
        return cls(model, tokenizer, int(meta.get("max_input_tokens", 512)), device)

    # ---------------------------------------------------------------------------------- use
    def encode(self, prompts: Sequence[str], targets: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
        """A padded batch on the model's device (`labels` with -100 on padding when targets are given)."""
        batch = self.tokenizer(list(prompts), padding=True, truncation=True, max_length=self.max_input_tokens,
                               return_tensors="pt")
        if targets is not None:
            labels = self.tokenizer(list(targets), padding=True, return_tensors="pt")["input_ids"]
            batch["labels"] = labels.masked_fill(labels == self.tokenizer.pad_token_id, -100)
        return {key: value.to(self.device) for key, value in batch.items()}

    @torch.inference_mode()
    def generate(self, prompts: Sequence[str], num_beams: int = 5,
                 max_new_tokens: int = 24) -> list[list[str]]:
        """The `num_beams` beams of every prompt, best first, from one batched beam search."""
        if not prompts:
            return []
        self.model.eval()
        batch = self.encode(prompts)
        out = self.model.generate(**batch, **self._beam_cache(), num_beams=num_beams,
                                  num_return_sequences=num_beams, max_new_tokens=max_new_tokens,
                                  do_sample=False, early_stopping=True)
        texts = [" ".join(t.split()) for t in self.tokenizer.batch_decode(out, skip_special_tokens=True)]
        return [texts[i * num_beams:(i + 1) * num_beams] for i in range(len(prompts))]

    def _beam_cache(self) -> dict[str, Any]:
        """A fresh `BeamSharedCrossAttentionCache` under the name this transformers version's
        `generate` takes (`cache` from 5.x, `past_key_values` before); empty for models without
        an encoder-decoder cache."""
        if not getattr(self.model.config, "is_encoder_decoder", False):
            return {}
        name = "cache" if "cache" in inspect.signature(self.model.forward).parameters else "past_key_values"
        return {name: BeamSharedCrossAttentionCache.empty(self.model.config)}

    def num_parameters(self) -> int:
        return sum(p.numel() for p in self.model.parameters())

    def to(self, device: str) -> Seq2SeqLM:
        self.model.to(device)
        self.device = device
        return self


def folder_size(directory: str | Path) -> int:
    """Bytes of the files under `directory` (a saved model's size on disk)."""
    return sum(p.stat().st_size for p in Path(directory).rglob("*") if p.is_file())
