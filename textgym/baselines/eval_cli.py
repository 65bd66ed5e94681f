"""`textgym eval --agent AGENT --protocol NAME`: score one agent, print a per-task table, write
results.json and episodes.csv."""

from __future__ import annotations

import argparse
import time

from rich.console import Console
from rich.progress import Progress

from textgym.baselines.backends import add_threads_argument, set_threads
from textgym.evaluation.protocols import PROTOCOLS, get_protocol
from textgym.validation import check_integer


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--agent", required=True,
                        help="random, oracle, llm (see the LLM options), a saved agent directory, or "
                             "module:Class / file.py:Class")
    parser.add_argument("--protocol", default="quick", choices=list(PROTOCOLS), help="default: quick")
    parser.add_argument("--env", action="append", default=None, metavar="ID",
                        help="only these env ids of the protocol (repeatable)")
    parser.add_argument("--variations", type=int, default=None, help="first N variations per env")
    parser.add_argument("--num-envs", type=int, default=4, help="parallel episodes (default: 4)")
    parser.add_argument("--device", default="cpu", help="cpu, cuda, cuda:1, ...")
    add_threads_argument(parser)
    parser.add_argument("--seed", type=int, default=0, help="base seed of the episodes")
    parser.add_argument("--out", default=None, help="write results.json and episodes.csv here")
    from textgym.agents.llm.options import add_llm_arguments

    add_llm_arguments(parser)


def run(args: argparse.Namespace) -> int:
    from textgym.agents import load_agent
    from textgym.agents.common.record import versions
    from textgym.baselines.references import load_references
    from textgym.baselines.report import print_tables, write_results
    from textgym.evaluation.evaluate import evaluate, protocol_episodes

    check_integer("--num-envs", args.num_envs, low=1)
    protocol = get_protocol(args.protocol)
    set_threads(args.threads)
    if args.agent == "llm":
        from textgym.agents.llm import LLMAgent
        from textgym.agents.llm.options import llm_config

        agent = LLMAgent(**llm_config(args), device=args.device)
    else:
        agent = load_agent(args.agent, device=args.device)
    episodes = protocol_episodes(protocol, args.env, args.variations, base_seed=args.seed)
    name = getattr(agent, "name", type(agent).__name__)
    console = Console()
    started = time.perf_counter()
    with Progress(console=console, transient=True) as progress:
        bar = progress.add_task(f"{name} on {protocol.name}", total=len(episodes))
        results = evaluate(agent, episodes, num_envs=args.num_envs,
                           on_result=lambda _: progress.advance(bar))
    print_tables({name: results}, title=f"{protocol.name}: {protocol.description}", console=console,
                 references=load_references(protocol.descriptor()), compare_to=None)
    if args.out:
        meta = {"protocol": protocol.name, "agent_reference": args.agent, "seed": args.seed,
                "seconds": round(time.perf_counter() - started, 1), "versions": versions()}
        paths = write_results(args.out, {name: results}, meta, compare_to=None)
        console.print(f"wrote {paths['json']} and {paths['csv']}")
    return 0
