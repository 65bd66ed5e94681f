"""What `textgym train bc` and `textgym train subgoal` share: the config, the data, and `fit`, the
training loop of one seq2seq model (teacher-forced cross-entropy, checkpoint picked on dev loss).

Checkpoints are picked on the **dev split** (the paper's code validated on the test file): pass
`--dev-data` a folder built with `textgym data gold --split dev` (and annotated, for the sub-goal
agent). Test records are refused in both. Without dev data a tenth of the training episodes is
held out, with a warning.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import random
import time
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from textgym.agents.seq2seq.decoding import SIMILARITIES
from textgym.agents.seq2seq.model import SCRATCH, ScratchT5, Seq2SeqLM, folder_size
from textgym.agents.seq2seq.prompts import PromptConfig, same_text
from textgym.data.annotate import annotate_dataset
from textgym.data.gold import build_gold, iter_episodes
from textgym.data.records import AnnotatedStep, GoldStep
from textgym.validation import check_integer

Example = tuple[str, str]
"""(prompt, target)."""


@dataclass
class TrainConfig:
    """Settings of `textgym train bc` (and, with `SubgoalConfig`, `textgym train subgoal`).

    Attributes:
        data: training step records (`textgym data gold`; annotated for the sub-goal agent).
        out: folder of the trained agent (`textgym eval --agent OUT`), its logs and training.json.
        dev_data: dev-split records for checkpoint selection (default: dev records of `data`, else
            a held-out tenth of its episodes).
        model: "scratch" (a small T5 and a word tokenizer, trained from scratch) or any Hugging Face
            seq2seq id or path (e.g. google/flan-t5-large).
        scratch: the size of the scratch T5.
        prompt: the prompt's word budgets.
        max_input_tokens: prompts are cut to this many tokens.
        epochs: passes over the training examples (`max_steps` and `max_minutes` may stop earlier).
        max_steps: optimizer steps at most, per model.
        max_minutes: wall-clock budget per model (the best checkpoint so far is kept).
        batch_size: examples per forward pass; grad_accum: passes per optimizer step.
        lr, weight_decay, warmup: AdamW and a linear warm-up (a fraction of the steps), then cosine.
        eval_every: optimizer steps between dev evaluations.
        dev_examples: dev examples used for the loss (a fixed sample; None: all).
        num_beams, similarity: the agent's decoding settings.
        device: "cpu", "cuda", ...; bf16: bf16 autocast (None: where `use_bf16` finds native bf16).
        threads: torch CPU threads (None: torch's default).
        seed: seeds the initialisation, the batch order and the dev sample.
        progress: progress bars.
    """

    data: str
    out: str
    dev_data: str | None = None
    model: str = SCRATCH
    scratch: ScratchT5 = field(default_factory=ScratchT5)
    prompt: PromptConfig = field(default_factory=PromptConfig)
    max_input_tokens: int = 448
    epochs: float = 12.0
    max_steps: int | None = None
    max_minutes: float | None = None
    batch_size: int = 32
    grad_accum: int = 1
    lr: float = 1e-3
    weight_decay: float = 0.01
    warmup: float = 0.05
    eval_every: int = 50
    dev_examples: int | None = 512
    num_beams: int = 5
    similarity: str = "minilm"
    device: str = "cpu"
    bf16: bool | None = None
    threads: int | None = None
    seed: int = 0
    progress: bool = True

    def __post_init__(self) -> None:
        if isinstance(self.scratch, dict):
            self.scratch = ScratchT5(**self.scratch)
        if isinstance(self.prompt, dict):
            self.prompt = PromptConfig(**self.prompt)
        for name in ("batch_size", "grad_accum", "eval_every", "max_input_tokens", "num_beams"):
            check_integer(name, getattr(self, name), low=1)
        for name in ("epochs", "lr", "max_steps", "max_minutes", "dev_examples", "threads"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not value > 0):
                raise ValueError(f"{name} must be positive, got {value!r}.")
        if not 0 <= self.warmup < 1:
            raise ValueError(f"warmup is a fraction of the steps in [0, 1), got {self.warmup!r}.")
        if self.similarity not in SIMILARITIES:
            raise ValueError(f"Unknown similarity {self.similarity!r}; choose one of {SIMILARITIES}.")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# ---------------------------------------------------------------------------------------- data
DATASETS = ("gold", "gold-dev", "annotated", "annotated-dev")


def prepare_data(env_ids: Sequence[str], root: str | Path, train_variations: int | None = 20,
                 dev_variations: int = 4, workers: int = 1, progress: bool = True) -> dict[str, Path]:
    """Gold paths of the first variations of the train and dev splits of `env_ids`, and their
    progress annotation, under `root` (an interrupted run resumes). What the default agents are
    trained on: BC on `gold` (picked on `gold-dev`), the sub-goal agent on `annotated`."""
    paths = {name: Path(root) / name for name in DATASETS}
    build_gold(env_ids, paths["gold"], split="train", max_variations=train_variations, workers=workers,
               progress=progress)
    build_gold(env_ids, paths["gold-dev"], split="dev", max_variations=dev_variations, workers=workers,
               progress=progress)
    annotate_dataset(paths["gold"], paths["annotated"], progress=progress)
    annotate_dataset(paths["gold-dev"], paths["annotated-dev"], progress=progress)
    return paths


def load_episodes(config: TrainConfig, annotated: bool) -> tuple[list[list[dict]], list[list[dict]]]:
    """(train episodes, dev episodes) from `config.data` and `config.dev_data`, checked."""
    fields = tuple((AnnotatedStep if annotated else GoldStep).__annotations__)
    hint = (" Annotate gold data with `textgym data annotate GOLD --out DIR` first." if annotated else "")
    try:
        train = [records for _, records in iter_episodes(config.data, fields)]
        dev = [records for _, records in iter_episodes(config.dev_data, fields)] if config.dev_data else []
    except ValueError as error:
        raise ValueError(f"{error}{hint}") from None
    splits = {records[0]["split"] for records in train}
    if "test" in splits:
        raise ValueError(f"{config.data} holds test-split episodes: train on the train split only.")
    if dev and {records[0]["split"] for records in dev} != {"dev"}:
        raise ValueError(f"--dev-data {config.dev_data} must hold dev-split episodes only (checkpoints are "
                         f"picked on the dev split, never on test): build it with "
                         f"`textgym data gold --split dev`.")
    if not dev:
        dev = [records for records in train if records[0]["split"] == "dev"]
        train = [records for records in train if records[0]["split"] != "dev"]
    if not dev:
        if len(train) < 2:
            raise ValueError(f"{config.data} has {len(train)} episode(s): too few to hold some out for "
                             f"checkpoint selection; pass --dev-data.")
        warnings.warn("No dev-split data (--dev-data): holding out a tenth of the training episodes to "
                      "pick the checkpoint.", stacklevel=2)
        order = random.Random(config.seed).sample(range(len(train)), len(train))
        held = set(order[:max(1, len(train) // 10)])
        dev = [train[i] for i in sorted(held)]
        train = [train[i] for i in range(len(train)) if i not in held]
    return train, dev


def build_lm(config: TrainConfig, examples: Sequence[Example]) -> Seq2SeqLM:
    """The model to train: a scratch T5 with a vocabulary from `examples`, or a pretrained one."""
    if config.model == SCRATCH:
        texts = [text for example in examples for text in example]
        return Seq2SeqLM.scratch(texts, config.scratch, config.max_input_tokens, config.device)
    return Seq2SeqLM.pretrained(config.model, config.max_input_tokens, config.device)


# ---------------------------------------------------------------------------------------- the loop
@dataclass
class FitResult:
    """What training one model gave (written to training.json)."""

    name: str
    examples: int
    dev_examples: int
    parameters: int
    bytes_on_disk: int
    steps: int
    best_step: int
    best_dev_loss: float
    dev_exact_match: float
    seconds: float


LOG_EVERY = 10
"""Optimizer steps between train-loss logs (reading the loss waits for the device)."""


def use_bf16(requested: bool | None, device: torch.device) -> bool:
    """Whether to train in bf16 autocast: as `requested`, else only on a CUDA `device` with native
    bf16 (compute capability 8.0+ or ROCm). Emulated bf16 (T4, V100), which torch counts as support
    by default, is slower than fp32 there; the check is made on `device`, not the current device.
    """
    if requested is not None:
        return bool(requested)
    if device.type != "cuda" or not torch.cuda.is_available():
        return False
    with torch.cuda.device(device):
        return torch.cuda.is_bf16_supported(including_emulation=False)


def fit(lm: Seq2SeqLM, train: Sequence[Example], dev: Sequence[Example], config: TrainConfig, name: str,
        out: Path, writer: Any) -> tuple[Seq2SeqLM, FitResult]:
    """Train `lm` on `train`; save the checkpoint with the lowest dev loss to `out/name` and return it."""
    rng = random.Random(config.seed)
    torch.manual_seed(config.seed)
    model, device = lm.model, torch.device(config.device)
    bf16 = use_bf16(config.bf16, device)
    autocast = (lambda: torch.autocast(device.type, dtype=torch.bfloat16)) if bf16 else contextlib.nullcontext
    if config.dev_examples and len(dev) > config.dev_examples:
        dev = random.Random(config.seed).sample(list(dev), config.dev_examples)
    train_ids, dev_ids = tokenize(lm, train), tokenize(lm, dev)

    per_epoch = math.ceil(len(train) / (config.batch_size * config.grad_accum))
    total = max(1, math.ceil(config.epochs * per_epoch))
    total = min(total, config.max_steps) if config.max_steps else total
    optimizer = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    scheduler = warmup_cosine(optimizer, total, config.warmup)
    batches = endless_batches(train_ids, config.batch_size, rng)
    best_loss, best_step, step = math.inf, 0, 0
    started = time.perf_counter()
    bar = _progress(total, f"{name}", config.progress)
    for step in range(1, total + 1):
        # 1. one optimizer step over grad_accum batches, teacher-forced cross-entropy
        model.train()
        loss_sum = torch.zeros((), device=device)  # stays on the device: no host sync per step
        for _ in range(config.grad_accum):
            with autocast():
                loss = model(**collate(lm, [train_ids[i] for i in next(batches)])).loss / config.grad_accum
            loss.backward()
            loss_sum += loss.detach()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        bar.update(1)
        if step % LOG_EVERY == 0 or step == total:
            train_loss = float(loss_sum)
            writer.add_scalar(f"{name}/train_loss", train_loss, step)
            writer.add_scalar(f"{name}/lr", scheduler.get_last_lr()[0], step)
            bar.set_postfix(loss=f"{train_loss:.3f}", dev=f"{best_loss:.3f}")

        # 2. dev loss now and then; the best checkpoint so far is what gets saved
        out_of_time = config.max_minutes and time.perf_counter() - started > 60 * config.max_minutes
        if step % config.eval_every == 0 or step == total or out_of_time:
            dev_loss = dev_loss_of(lm, dev_ids, config.batch_size, autocast)
            writer.add_scalar(f"{name}/dev_loss", dev_loss, step)
            if dev_loss < best_loss:
                best_loss, best_step = dev_loss, step
                lm.save(out / name)
        if out_of_time:
            break
    bar.close()
    seconds = time.perf_counter() - started

    # 3. the best checkpoint, and how often its top beam is the dev target
    best = Seq2SeqLM.load(out / name, config.device)
    match = exact_match(best, dev[:256], config.num_beams)
    writer.add_scalar(f"{name}/dev_exact_match", match, best_step)
    return best, FitResult(name=name, examples=len(train), dev_examples=len(dev),
                           parameters=best.num_parameters(), bytes_on_disk=folder_size(out / name),
                           steps=step, best_step=best_step, best_dev_loss=best_loss,
                           dev_exact_match=match, seconds=round(seconds, 1))


def tokenize(lm: Seq2SeqLM, examples: Sequence[Example]) -> list[tuple[list[int], list[int]]]:
    """Token ids of every (prompt, target), cut to the model's input length."""
    if not examples:
        return []
    prompts = lm.tokenizer([p for p, _ in examples], truncation=True, max_length=lm.max_input_tokens)
    targets = lm.tokenizer([t for _, t in examples], truncation=True, max_length=64)
    return list(zip(prompts["input_ids"], targets["input_ids"], strict=True))


def collate(lm: Seq2SeqLM, rows: Sequence[tuple[list[int], list[int]]]) -> dict[str, torch.Tensor]:
    """Padded input ids, attention mask and labels (-100 on padding) on the model's device."""
    pad = lm.tokenizer.pad_token_id
    width, target_width = max(len(s) for s, _ in rows), max(len(t) for _, t in rows)
    inputs = torch.full((len(rows), width), pad, dtype=torch.long)
    labels = torch.full((len(rows), target_width), -100, dtype=torch.long)
    for row, (source, target) in enumerate(rows):
        inputs[row, :len(source)] = torch.tensor(source)
        labels[row, :len(target)] = torch.tensor(target)
    return {"input_ids": inputs.to(lm.device), "attention_mask": (inputs != pad).long().to(lm.device),
            "labels": labels.to(lm.device)}


def endless_batches(rows: Sequence[tuple[list[int], list[int]]], batch_size: int,
                    rng: random.Random) -> Iterator[list[int]]:
    """Shuffled index batches of similar prompt lengths (less padding), epoch after epoch."""
    while True:
        order = rng.sample(range(len(rows)), len(rows))
        chunks = []
        for start in range(0, len(order), batch_size * 32):  # sort within windows of 32 batches
            window = sorted(order[start:start + batch_size * 32], key=lambda i: len(rows[i][0]))
            chunks += [window[i:i + batch_size] for i in range(0, len(window), batch_size)]
        rng.shuffle(chunks)
        yield from chunks


def warmup_cosine(optimizer: torch.optim.Optimizer, steps: int,
                  warmup: float) -> torch.optim.lr_scheduler.LambdaLR:
    """Linear warm-up over a fraction of the steps, then cosine decay to a tenth of the peak."""
    warmup_steps = max(1, int(warmup * steps))

    def factor(step: int) -> float:
        if step < warmup_steps:
            return (step + 1) / warmup_steps
        progress = min((step - warmup_steps) / max(steps - warmup_steps, 1), 1.0)
        return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * progress))

    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


@torch.no_grad()
def dev_loss_of(lm: Seq2SeqLM, rows: Sequence[tuple[list[int], list[int]]], batch_size: int,
                autocast: Any = contextlib.nullcontext) -> float:
    """Mean per-token cross-entropy on the dev examples."""
    lm.model.eval()
    total, tokens = 0.0, 0
    order = sorted(range(len(rows)), key=lambda i: len(rows[i][0]))
    for start in range(0, len(order), batch_size):
        batch = collate(lm, [rows[i] for i in order[start:start + batch_size]])
        count = int((batch["labels"] != -100).sum())
        with autocast():
            total += float(lm.model(**batch).loss) * count
        tokens += count
    return total / max(tokens, 1)


def exact_match(lm: Seq2SeqLM, examples: Sequence[Example], num_beams: int, batch_size: int = 32) -> float:
    """Fraction of examples whose top beam equals the target (up to tokenization)."""
    hits = 0
    for start in range(0, len(examples), batch_size):
        chunk = examples[start:start + batch_size]
        beams = lm.generate([p for p, _ in chunk], num_beams=num_beams)
        hits += sum(same_text(b[0], t) for b, (_, t) in zip(beams, chunk, strict=True))
    return hits / max(len(examples), 1)


def _progress(total: int, description: str, enabled: bool) -> Any:
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=description, disable=not enabled, dynamic_ncols=True)


def start(config: TrainConfig) -> tuple[Path, Any]:
    """Threads, seeds, the output folder and a TensorBoard writer."""
    from torch.utils.tensorboard import SummaryWriter

    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    np.random.seed(config.seed)
    torch.manual_seed(config.seed)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    return out, SummaryWriter(str(out / "tensorboard"))


def write_summary(out: Path, config: TrainConfig, results: Sequence[FitResult]) -> Path:
    """training.json: the config and each model's training figures."""
    path = out / "training.json"
    path.write_text(json.dumps({"config": config.to_dict(),
                                "models": [dataclasses.asdict(r) for r in results]}, indent=2))
    return path


# ---------------------------------------------------------------------------------------- CLI
def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of `textgym train bc` and `textgym train subgoal`."""
    defaults, scratch, prompt = TrainConfig("", ""), ScratchT5(), PromptConfig()
    parser.add_argument("--data", required=True, help="training step records (a `textgym data` folder)")
    parser.add_argument("--dev-data", default=None,
                        help="dev-split records for checkpoint selection (default: a tenth of --data)")
    parser.add_argument("--out", required=True, help="folder of the trained agent")
    parser.add_argument("--model", default=SCRATCH,
                        help="'scratch' (small T5 + word tokenizer, offline) or a Hugging Face seq2seq "
                             "id or path, e.g. google/flan-t5-large (default: scratch)")
    group = parser.add_argument_group("scratch model")
    group.add_argument("--d-model", type=int, default=scratch.d_model)
    group.add_argument("--d-ff", type=int, default=scratch.d_ff)
    group.add_argument("--layers", type=int, default=scratch.num_layers, help="encoder and decoder layers")
    group.add_argument("--heads", type=int, default=scratch.num_heads)
    group = parser.add_argument_group("prompt")
    group.add_argument("--history", type=int, default=prompt.history, help="past steps shown")
    group.add_argument("--look-words", type=int, default=prompt.look_words)
    group.add_argument("--observation-words", type=int, default=prompt.observation_words)
    group.add_argument("--max-input-tokens", type=int, default=defaults.max_input_tokens)
    group = parser.add_argument_group("optimisation")
    group.add_argument("--epochs", type=float, default=defaults.epochs)
    group.add_argument("--max-steps", type=int, default=None, help="optimizer steps at most, per model")
    group.add_argument("--max-minutes", type=float, default=None, help="time budget per model")
    group.add_argument("--batch-size", type=int, default=defaults.batch_size)
    group.add_argument("--grad-accum", type=int, default=defaults.grad_accum)
    group.add_argument("--lr", type=float, default=None,
                       help="peak learning rate (default: 1e-3 from scratch, 1e-4 pretrained, as the paper)")
    group.add_argument("--eval-every", type=int, default=defaults.eval_every, help="steps between dev losses")
    group.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=None,
                       help="bf16 autocast (default: on CUDA devices that support it)")
    parser.add_argument("--num-beams", type=int, default=defaults.num_beams)
    parser.add_argument("--similarity", choices=SIMILARITIES, default=defaults.similarity,
                        help="fallback when no beam is admissible (default: minilm)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    parser.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quiet", action="store_true", help="no progress bars")


def config_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    """`TrainConfig` keywords from the parsed options."""
    lr = args.lr if args.lr is not None else (1e-3 if args.model == SCRATCH else 1e-4)
    return dict(
        data=args.data, out=args.out, dev_data=args.dev_data, model=args.model,
        scratch=ScratchT5(d_model=args.d_model, d_ff=args.d_ff, num_layers=args.layers, num_heads=args.heads),
        prompt=dataclasses.replace(PromptConfig(), history=args.history, look_words=args.look_words,
                                   observation_words=args.observation_words),
        max_input_tokens=args.max_input_tokens, epochs=args.epochs, max_steps=args.max_steps,
        max_minutes=args.max_minutes, batch_size=args.batch_size, grad_accum=args.grad_accum, lr=lr,
        eval_every=args.eval_every, num_beams=args.num_beams, similarity=args.similarity,
        device=args.device, bf16=args.bf16, threads=args.threads, seed=args.seed, progress=not args.quiet)
