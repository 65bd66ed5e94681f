"""What `textgym train bc` and `textgym train subgoal` share: the config, the data, and `fit`, the
training loop of one seq2seq model (teacher-forced cross-entropy, checkpoint picked on dev loss).

Checkpoints are picked on the **dev split** (the paper's code validated on the test file): pass
`--dev-data` a folder built with `textgym data gold --split dev` (and annotated, for the sub-goal
agent). Test records are refused in both. Without dev data a tenth of the training episodes is
held out, with a warning.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import math
import random
import time
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from textgym.agents.common.batching import endless_batches
from textgym.agents.common.config import option
from textgym.agents.common.logs import summary_writer
from textgym.agents.common.record import TrainedAgent, finish
from textgym.agents.common.schedules import warmup_cosine
from textgym.agents.common.seeding import seed_everything
from textgym.agents.common.splits import refuse_test_split
from textgym.agents.seq2seq.decoding import SIMILARITIES
from textgym.agents.seq2seq.model import SCRATCH, ScratchT5, Seq2SeqLM, folder_size
from textgym.agents.seq2seq.prompts import PromptConfig, same_text
from textgym.data.annotate import annotate_dataset
from textgym.data.gold import build_gold, iter_episodes
from textgym.data.records import AnnotatedStep, GoldStep
from textgym.validation import check_integer, check_positive

Example = tuple[str, str]
"""(prompt, target)."""


@dataclass(kw_only=True)
class Seq2SeqTrainConfig:
    """Settings shared by `textgym train bc` (`BCTrainConfig`) and `textgym train subgoal`."""

    data: str = option(help="training step records (a `textgym data` folder; annotated for the sub-goal "
                            "agent)")
    dev_data: str | None = option(None, help="dev-split records for checkpoint selection (default: the dev "
                                             "records of --data, else a tenth of its episodes)")
    out: str = option(help="folder of the trained agent (`textgym eval --agent OUT`), its logs and records")
    model: str = option(SCRATCH, help="'scratch' (small T5 + word tokenizer, offline) or a Hugging Face "
                                      "seq2seq id or path, e.g. google/flan-t5-large (default: scratch)")
    scratch: ScratchT5 = option(ScratchT5(), help="the size of the T5 trained from scratch")
    prompt: PromptConfig = option(PromptConfig(), help="word budgets of the prompt fields")
    max_input_tokens: int = option(448, help="prompts are cut to this many tokens")
    epochs: float = option(12.0, help="passes over the training examples (max-steps may stop earlier)")
    max_steps: int | None = option(None, help="optimizer steps at most, per model")
    batch_size: int = option(32, help="examples per forward pass")
    grad_accum: int = option(1, help="forward passes per optimizer step")
    lr: float | None = option(None, help="peak AdamW learning rate (default: 1e-3 from scratch, 1e-4 "
                                         "pretrained, as the paper)")
    weight_decay: float = option(0.01, help="AdamW weight decay")
    warmup: float = option(0.05, help="linear warm-up over this fraction of the steps, then cosine decay")
    eval_every: int = option(50, help="optimizer steps between dev losses")
    dev_examples: int | None = option(512, help="dev examples used for the loss (a fixed sample)")
    num_beams: int = option(5, help="the agent's beam width")
    similarity: str = option("minilm", choices=SIMILARITIES,
                             help="fallback when no beam is admissible (default: minilm)")
    device: str = option("cpu", help="cpu, cuda, cuda:1, ... (default: cpu)")
    bf16: bool | None = option(None, help="bf16 autocast (default: on CUDA devices with native bf16, "
                                                   "see `use_bf16`)")
    threads: int | None = option(None, help="torch CPU threads (default: torch's)")
    seed: int = option(0, help="seeds the initialisation, the batch order and the dev sample")
    progress: bool = option(True, flag="--quiet", help="no progress bars")

    def __post_init__(self) -> None:
        if isinstance(self.scratch, dict):
            self.scratch = ScratchT5(**self.scratch)
        if isinstance(self.prompt, dict):
            self.prompt = PromptConfig(**self.prompt)
        if self.lr is None:
            self.lr = 1e-3 if self.model == SCRATCH else 1e-4
        for name in ("batch_size", "grad_accum", "eval_every", "max_input_tokens", "num_beams"):
            check_integer(name, getattr(self, name), low=1)
        for name in ("epochs", "lr", "max_steps", "dev_examples", "threads"):
            check_positive(name, getattr(self, name), optional=True)
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


def load_episodes(config: Seq2SeqTrainConfig, annotated: bool) -> tuple[list[list[dict]], list[list[dict]]]:
    """(train episodes, dev episodes) from `config.data` and `config.dev_data`, checked."""
    fields = tuple((AnnotatedStep if annotated else GoldStep).__annotations__)
    hint = (" Annotate gold data with `textgym data annotate GOLD --out DIR` first." if annotated else "")
    try:
        train = [records for _, records in iter_episodes(config.data, fields)]
        dev = [records for _, records in iter_episodes(config.dev_data, fields)] if config.dev_data else []
    except ValueError as error:
        raise ValueError(f"{error}{hint}") from None
    splits = {records[0]["split"] for records in train}
    refuse_test_split(splits, config.data, "training")
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


def build_lm(config: Seq2SeqTrainConfig, examples: Sequence[Example]) -> Seq2SeqLM:
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


def fit(lm: Seq2SeqLM, train: Sequence[Example], dev: Sequence[Example], config: Seq2SeqTrainConfig,
        name: str, out: Path, writer: Any) -> tuple[Seq2SeqLM, FitResult]:
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
    scheduler = warmup_cosine(optimizer, total, int(config.warmup * total))
    batches = endless_batches([len(prompt) for prompt, _ in train_ids], config.batch_size, rng)
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
        if step % config.eval_every == 0 or step == total:
            dev_loss = dev_loss_of(lm, dev_ids, config.batch_size, autocast)
            writer.add_scalar(f"{name}/dev_loss", dev_loss, step)
            if dev_loss < best_loss:
                best_loss, best_step = dev_loss, step
                lm.save(out / name)
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


def start(config: Seq2SeqTrainConfig) -> tuple[Path, Any]:
    """Threads, seeds, the output folder and a TensorBoard writer."""
    seed_everything(config.seed, config.threads)
    out = Path(config.out)
    out.mkdir(parents=True, exist_ok=True)
    return out, summary_writer(out / "tensorboard")


def finish_training(agent: Any, config: Seq2SeqTrainConfig, out: Path, results: Sequence[FitResult],
                    started: float) -> TrainedAgent:
    """Save `agent` in `out`; write training.json (the config and each model's training figures)
    and the training record."""
    agent.save(out)
    models = [dataclasses.asdict(r) for r in results]
    (out / "training.json").write_text(json.dumps({"config": config.to_dict(), "models": models}, indent=2))
    return finish(agent, out, out, config, steps=sum(r.steps for r in results), unit="optimizer steps",
                  seconds=time.perf_counter() - started,
                  data={"data": config.data, "dev_data": config.dev_data}, metrics={"models": models})
