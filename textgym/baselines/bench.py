"""`textgym bench`: every bundled baseline, and your own agent, on the same episodes of a protocol.

With no arguments it runs the `quick` protocol on this machine: it trains the default agents at
small scale the first time (cached under `textgym.cache.cache_dir()/bench`, so later runs only
evaluate), evaluates them next to the random and oracle agents (two agents at a time, each in its
own process: `--parallel-agents`), prints a per-task table (with
published numbers where the protocol matches), and writes into the results directory:

- `results.json` (per-agent summaries and every episode with its actions) and `episodes.csv`;
- `table.md` (the printed table) and `chart.png` (per-task scores per agent);
- `config.json`: the command line, the protocol, every episode's seed, the training record of
  each trained baseline, and every library version, so a run can be reproduced.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from textgym.baselines import recipes
from textgym.baselines.backends import add_threads_argument
from textgym.evaluation.protocols import PROTOCOLS


@dataclass(frozen=True)
class Baseline:
    """A bundled agent: either ready to run (`reference`) or trained by a recipe on first use.

    Attributes:
        name: its column in the table and its name on the command line.
        description: one line for `--help`.
        reference: what `load_agent` takes, for agents that need no training.
        recipe: the function of `textgym.baselines.recipes` that trains the default agent at small
            scale and returns the saved agent directory and its training record.
        from_args: a function `(args, out) -> reference` that builds the agent from the command
            line's options (the LLM agent: --endpoint, --model, ...); such an agent runs only when
            named in --agents.
    """

    name: str
    description: str
    reference: str | None = None
    recipe: Callable[[Any, Callable[[str], None]], tuple[Path, dict]] | None = None
    from_args: Callable[[argparse.Namespace, Path], str] | None = None


def llm_agent(args: argparse.Namespace, out: Path) -> str:
    """The LLM agent of the command line's --endpoint/--model options (imported only when asked)."""
    from textgym.agents.llm.options import bench_agent

    return bench_agent(args, out)


RESULT_FILES = ("results.json", "episodes.csv", "table.md", "chart.png", "config.json")
"""What every bench run writes into its results directory."""

BASELINES: dict[str, Baseline] = {b.name: b for b in (
    Baseline("random", "uniform over the admissible commands", reference="random"),
    Baseline("oracle", "replays the simulator's gold path (an upper bound)", reference="oracle"),
    Baseline("bc", "behaviour cloning: a seq2seq LM on gold commands", recipe=recipes.bc),
    Baseline("subgoal", "sub-goal distillation: planner + executor LMs", recipe=recipes.subgoal),
    Baseline("drrn", "DRRN: Q-learning over the admissible commands", recipe=recipes.drrn),
    Baseline("ppo", "MaskablePPO over the admissible commands", recipe=recipes.ppo),
    Baseline("cola", "CoLA: a latent-action policy over our own small language world model",
             recipe=recipes.cola),
    Baseline("llm", "a zero-shot chat LLM (--endpoint URL --model NAME, or a local --model)",
             from_args=llm_agent),
)}
DEFAULT_AGENTS = [name for name, baseline in BASELINES.items() if baseline.from_args is None]


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--protocol", default="quick", choices=list(PROTOCOLS), help="default: quick")
    parser.add_argument("--agents", default=",".join(DEFAULT_AGENTS),
                        help=f"comma list of bundled baselines: {', '.join(BASELINES)} "
                             f"(default: {', '.join(DEFAULT_AGENTS)})")
    parser.add_argument("--agent", action="append", default=[], metavar="REF",
                        help="your agent: module:Class, path/to/file.py:Class or a saved agent directory "
                             "(repeatable); it runs on exactly the same episodes")
    parser.add_argument("--env", action="append", default=None, metavar="ID",
                        help="only these env ids of the protocol (repeatable)")
    parser.add_argument("--variations", type=int, default=None, help="first N variations per env")
    parser.add_argument("--num-envs", type=int, default=4, help="parallel episodes per agent (default: 4)")
    parser.add_argument("--parallel-agents", type=int, default=2, metavar="N",
                        help="agents evaluated at the same time, each in its own process (default: 2; the "
                             "results do not depend on it; local backend)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    add_threads_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="base seed of the episodes (default: 0)")
    parser.add_argument("--seeds", type=int, nargs="+", default=None, metavar="S",
                        help="training seeds of the trained baselines: each is trained and evaluated, and "
                             "the intervals cover seeds and episodes (default: --seed)")
    parser.add_argument("--compare-to", default="random", metavar="NAME",
                        help="the agent every other one is compared with on the same episodes (paired "
                             "difference and probability of improvement; default: random)")
    parser.add_argument("--out", default=None,
                        help="results directory (default: results/bench-PROTOCOL-TIME)")
    parser.add_argument("--backend", default="local", choices=["local", "ray"],
                        help="run episodes here, or on a Ray cluster (one env per actor)")
    parser.add_argument("--address", default=None, help="Ray cluster address (default: start a local Ray)")
    parser.add_argument("--retrain", action="store_true",
                        help="train the default agents again (ignoring the shipped and the cached ones)")
    parser.add_argument("--train-only", action="store_true",
                        help="train (or find) the chosen baselines, print their training records, "
                             "evaluate nothing")
    parser.add_argument("--ship", action="store_true",
                        help="copy each trained baseline used into textgym/baselines/trained/ (the agents "
                             "textgym ships; at most 100 MB in all)")
    parser.add_argument("--train-scale", type=float, default=1.0,
                        help="multiply the default agents' training budgets (0.05: a smoke test; 4: "
                             "stronger baselines); a new scale trains new agents")
    from textgym.agents.llm.options import add_llm_arguments

    add_llm_arguments(parser)


def chosen_baselines(names: str) -> list[Baseline]:
    """The `--agents` list, checked."""
    chosen = [name.strip() for name in names.split(",") if name.strip()]
    unknown = [name for name in chosen if name not in BASELINES]
    if unknown:
        raise ValueError(f"Unknown baseline(s) {unknown}; the bundled ones are {', '.join(BASELINES)}.")
    return [BASELINES[name] for name in chosen]


def agent_reference(baseline: Baseline, context: Any, log: Callable[[str], None],
                    args: argparse.Namespace | None = None, out: Path | None = None) -> tuple[str, dict]:
    """The agent to load for `baseline`, training the default one first if it is not cached yet."""
    if baseline.reference is not None:
        return baseline.reference, {}
    if baseline.from_args is not None:
        return baseline.from_args(args, out), {}
    directory, record = baseline.recipe(context, log)
    return str(directory), record


def chart(path: Path, columns: Mapping[str, Sequence[Any]]) -> None:
    """Grouped bars with 95% intervals: per env id (bootstrap over its episodes) and overall
    (stratified bootstrap over tasks), one bar per agent."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    from textgym.baselines.report import scores_by_task, short_env_names
    from textgym.evaluation.statistics import mean_over_tasks

    agents = [name for name, results in columns.items() if results]
    by_task = {name: {task: list(s.values()) for task, s in scores_by_task(columns[name]).items()}
               for name in agents}
    envs = list(dict.fromkeys(env for tasks in by_task.values() for env in tasks))
    labels = [*short_env_names(envs).values(), "overall"]
    width = 0.8 / max(1, len(agents))
    figure, axis = plt.subplots(figsize=(max(6.0, 1.3 * len(labels) + 2), 4.4))
    for index, name in enumerate(agents):
        intervals = [mean_over_tasks({env: by_task[name][env]}) if env in by_task[name] else None
                     for env in envs] + [mean_over_tasks(by_task[name])]
        means = np.array([i.estimate if i else np.nan for i in intervals])
        # no bar where a task has one episode (its interval is undefined; the table says n/a)
        errors = np.array([[i.estimate - i.low, i.high - i.estimate] if i and i.defined else [0, 0]
                           for i in intervals]).T
        axis.bar(np.arange(len(labels)) + index * width, means, width, yerr=errors, capsize=2,
                 error_kw={"linewidth": 0.8}, label=name)
    axis.set_xticks(np.arange(len(labels)) + width * (len(agents) - 1) / 2)
    axis.set_xticklabels(labels, rotation=30, ha="right", fontsize=8)
    axis.set_ylabel("mean score (0-100), 95% interval")
    axis.set_ylim(0, 105)
    axis.legend(fontsize=8, ncol=min(4, len(agents)))
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def run(args: argparse.Namespace) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from textgym.agents.common.record import versions
    from textgym.baselines.backends import run_agents, run_episodes
    from textgym.baselines.recipes import BenchContext
    from textgym.baselines.references import load_references
    from textgym.baselines.report import markdown_report, print_tables, write_results
    from textgym.cache import write_json_atomic
    from textgym.evaluation.evaluate import protocol_episodes
    from textgym.evaluation.protocols import get_protocol
    from textgym.validation import check_integer, check_positive

    check_integer("--num-envs", args.num_envs, low=1)
    check_integer("--threads", args.threads, low=1)  # before any training, not after it
    check_integer("--parallel-agents", args.parallel_agents, low=1)
    started = time.perf_counter()
    console = Console()
    protocol = get_protocol(args.protocol)
    baselines = chosen_baselines(args.agents)
    episodes = protocol_episodes(protocol, args.env, args.variations, base_seed=args.seed)
    out = Path(args.out or f"results/bench-{protocol.name}-{datetime.now():%Y%m%d-%H%M%S}")
    console.print(f"[bold]textgym bench[/bold]: {protocol.name} ({protocol.description}); "
                  + ("training only, no evaluation" if args.train_only
                     else f"{len(episodes)} episodes per agent; results in {out}"))

    check_positive("--train-scale", args.train_scale)
    seeds = list(dict.fromkeys(args.seeds or [args.seed]))
    env_ids = tuple(dict.fromkeys(e.env_id for e in episodes))
    # (column, training seed or None, reference): a trained baseline runs once per training seed.
    runs: list[tuple[str, int | None, str]] = []
    training: dict[str, dict] = {}
    for baseline in baselines:
        for seed in (seeds if baseline.recipe is not None else [None]):
            context = BenchContext(protocol=protocol, env_ids=env_ids, device=args.device,
                                   seed=args.seed if seed is None else seed, retrain=args.retrain,
                                   train_scale=args.train_scale)
            reference, record = agent_reference(baseline, context, console.print, args, out)
            if args.ship and record:
                from textgym.baselines.shipped import ship

                reference = str(ship(Path(reference), record, context.key, baseline.name))
                console.print(f"{baseline.name}: shipped in {reference}")
            runs.append((baseline.name, seed, reference))
            if record:
                training[baseline.name if len(seeds) == 1 else f"{baseline.name} (seed {seed})"] = record
    if args.train_only:
        for name, record in training.items():
            console.print(f"{name}: {record['budget']['steps']} {record['budget']['unit']}, "
                          f"{record['seconds']} s; {record['command']}")
        return 0
    for reference in args.agent:
        runs.append((Path(reference).name if Path(reference).exists() else reference.rpartition(":")[2], None,
                     reference))
    names = list(dict.fromkeys(name for name, _, _ in runs))
    if args.compare_to not in names:
        raise ValueError(f"--compare-to {args.compare_to!r} is not among the agents of this run "
                         f"({', '.join(names)}).")

    trained = time.perf_counter()
    columns: dict[str, list] = {name: [] for name in names}
    with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=console) as progress:
        bars = [progress.add_task(f"{name if seed is None or len(seeds) == 1 else f'{name} s{seed}':<10}",
                                  total=len(episodes)) for name, seed, _ in runs]
        if args.backend == "local":
            evaluated_runs = run_agents([reference for _, _, reference in runs], episodes,
                                        args.parallel_agents, num_envs=args.num_envs, device=args.device,
                                        threads=args.threads,
                                        on_episode=lambda job: progress.advance(bars[job]))
        else:  # a Ray cluster spreads each agent's episodes itself
            evaluated_runs = [run_episodes(reference, episodes, args.backend, num_envs=args.num_envs,
                                           device=args.device, address=args.address, threads=args.threads,
                                           on_result=lambda _, bar=bar: progress.advance(bar))
                              for (_, _, reference), bar in zip(runs, bars, strict=True)]
        for (name, seed, _), results in zip(runs, evaluated_runs, strict=True):
            for result in results:
                result.training_seed = seed
            columns[name] += results
    evaluated = time.perf_counter()

    references = load_references(protocol.descriptor(seeds=len(seeds)))
    title = f"{protocol.name}: {protocol.description} (mean score, 0-100)"
    print_tables(columns, title=title, console=console, references=references, compare_to=args.compare_to)
    write_results(out, columns, {"protocol": protocol.name, "training_seeds": seeds},
                  compare_to=args.compare_to)
    (out / "table.md").write_text(f"### {title}\n\n" + markdown_report(columns, references, args.compare_to))
    chart(out / "chart.png", columns)
    seconds = time.perf_counter() - started
    write_json_atomic(out / "config.json", {
        "command": vars(args) | {"command_module": None}, "protocol": asdict(protocol),
        "episodes": [asdict(e) for e in episodes], "agents": {f"{n} (seed {s})" if s is not None else n: r
                                                            for n, s, r in runs},
        "training": training, "seconds": round(seconds, 1), "seconds_training": round(trained - started, 1),
        "seconds_evaluating": round(evaluated - trained, 1), "versions": versions(),
    })
    console.print(f"wrote {', '.join(RESULT_FILES)} into {out} ({seconds:.0f} s in all: "
                  f"{trained - started:.0f} s training or loading agents, "
                  f"{evaluated - trained:.0f} s evaluating)")
    return 0
