"""Imitation figures (issue 5): random, oracle, BC and sub-goal agents side by side on `quick` and
`short10`, with each trained model's training time, parameters and size on disk.

    OMP_NUM_THREADS=1 nice .venv/bin/python benchmarks/imitation_figures.py --root runs/imitation

Each stage is skipped when its output exists, so a rerun only prints the figures:

1. data: gold paths of the first `--train-variations` train and `--dev-variations` dev variations of
   the 10 `short10` tasks (the `quick` tasks are among them), progress-annotated into sub-goals;
2. training from scratch on this machine (checkpoints picked on the dev split): BC, then the
   sub-goal agent's planner and executor, all with the same settings (`BCTrainConfig`, `SubgoalTrainConfig`);
3. evaluation on exactly the same episodes (same variations and seeds) of each protocol: random,
   oracle, and each trained agent twice, with the paper's word-overlap fallback ("bc-overlap") and
   with the MiniLM one ("bc-minilm", the default); results in ROOT/eval/PROTOCOL/AGENT.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from textgym.agents import load_agent
from textgym.agents.seq2seq import BCTrainConfig, SubgoalTrainConfig, train_bc, train_subgoal
from textgym.agents.seq2seq.training import prepare_data
from textgym.baselines.report import print_tables
from textgym.evaluation.evaluate import EpisodeResult, evaluate, protocol_episodes, summarize
from textgym.evaluation.protocols import PROTOCOLS

AGENTS = ("random", "oracle", "bc-overlap", "subgoal-overlap", "bc-minilm", "subgoal-minilm")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", default="runs/imitation", help="data, agents and results go here")
    parser.add_argument("--protocols", nargs="+", default=["quick", "short10"], choices=list(PROTOCOLS))
    parser.add_argument("--train-variations", type=int, default=20, help="train variations per task")
    parser.add_argument("--dev-variations", type=int, default=4, help="dev variations per task")
    parser.add_argument("--epochs", type=float, default=12.0, help="epochs per model")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (default: 1)")
    parser.add_argument("--num-envs", type=int, default=4, help="parallel episodes in evaluation")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()


def train(args: argparse.Namespace, data: dict[str, Path], root: Path) -> None:
    """Train BC and the sub-goal agent unless they are already there."""
    common = dict(epochs=args.epochs, threads=args.threads, device=args.device,
                  eval_every=50)
    if not (root / "bc" / "agent.json").is_file():
        train_bc(BCTrainConfig(data=str(data["gold"]), dev_data=str(data["gold-dev"]), out=str(root / "bc"),
                               **common))
    if not (root / "subgoal" / "agent.json").is_file():
        train_subgoal(SubgoalTrainConfig(data=str(data["annotated"]), dev_data=str(data["annotated-dev"]),
                                         out=str(root / "subgoal"), **common))


def results_of(agent_name: str, protocol: str, root: Path, args: argparse.Namespace) -> list[EpisodeResult]:
    """The agent's results on the protocol (evaluated now unless saved)."""
    path = root / "eval" / protocol / f"{agent_name}.json"
    if path.is_file():
        return [EpisodeResult(**row) for row in json.loads(path.read_text())]
    trained, _, similarity = agent_name.partition("-")
    agent = load_agent(root / trained if similarity else agent_name, device=args.device)
    if similarity:
        agent.set_decoding(similarity=similarity)
    started = time.perf_counter()
    results = evaluate(agent, protocol_episodes(PROTOCOLS[protocol]), num_envs=args.num_envs)
    print(f"{agent_name} on {protocol}: {len(results)} episodes in {time.perf_counter() - started:.0f} s")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps([r.to_dict() for r in results]))
    return results


def training_figures(root: Path, name: str) -> dict[str, float]:
    """Minutes, parameters, MB on disk and dev exact match of an agent's models (summed / per model)."""
    models = json.loads((root / name / "training.json").read_text())["models"]
    return {"minutes": sum(m["seconds"] for m in models) / 60,
            "parameters": sum(m["parameters"] for m in models),
            "megabytes": sum(m["bytes_on_disk"] for m in models) / 1e6,
            "dev_exact_match": {m["name"]: round(m["dev_exact_match"], 3) for m in models},
            "examples": {m["name"]: m["examples"] for m in models},
            "steps": {m["name"]: f"{m['best_step']}/{m['steps']}" for m in models}}


def main() -> None:
    args = parse()
    root = Path(args.root)
    tasks = list(dict.fromkeys(e for p in args.protocols for e in PROTOCOLS[p].env_ids))
    data = prepare_data(tasks, root / "data", args.train_variations, args.dev_variations, progress=False)
    train(args, data, root)

    console = Console(width=170)
    overall: dict[str, dict[str, float]] = {name: {} for name in AGENTS}
    for protocol in args.protocols:
        columns = {name: results_of(name, protocol, root, args) for name in AGENTS}
        print_tables(columns, title=f"{protocol}: {PROTOCOLS[protocol].description}", console=console)
        for name, results in columns.items():
            overall[name][protocol] = summarize(results)["overall"]["score"]

    table = Table(title="mean score (0-100) and the trained models")
    columns = ["agent", *args.protocols, "train min (wall)", "parameters", "MB", "dev exact match",
               "best/steps"]
    for column in columns:
        table.add_column(column, justify="left" if column == "agent" else "right")
    for name in AGENTS:
        scores = [f"{overall[name][p]:.1f}" for p in args.protocols]
        if name not in ("random", "oracle"):
            fig = training_figures(root, name.partition("-")[0])
            table.add_row(name, *scores, f"{fig['minutes']:.1f}", f"{fig['parameters']:,}",
                          f"{fig['megabytes']:.1f}", json.dumps(fig["dev_exact_match"]),
                          json.dumps(fig["steps"]))
        else:
            table.add_row(name, *scores, "-", "-", "-", "-", "-")
    console.print(table)
    for protocol in args.protocols:
        for fallback in ("overlap", "minilm"):
            gap = overall[f"subgoal-{fallback}"][protocol] - overall[f"bc-{fallback}"][protocol]
            console.print(f"{protocol}, {fallback} fallback: subgoal - bc = {gap:+.1f} points")


if __name__ == "__main__":
    main()
