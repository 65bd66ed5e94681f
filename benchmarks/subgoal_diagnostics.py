"""Which half of the sub-goal hierarchy loses points: the planner or the executor.

Prints, for a trained sub-goal agent (and optionally a BC agent trained on the same data):

1. the planner's exact-match accuracy on the sub-goal decisions of annotated dev episodes, split
   into `new` decisions (t=0 and after each END_SG: which sub-goal comes next) and `keep` ones;
2. the protocol scores of BC, the sub-goal agent, and the same executor under the simulator's own
   sub-goal sequence (`OraclePlannerAgent`: the gold path of each evaluated variation, annotated
   by `textgym data annotate`'s progress annotator). Oracle minus sub-goal = the points the learned
   planner loses; oracle minus BC = what the executor does even with perfect sub-goals.

    python benchmarks/subgoal_diagnostics.py --subgoal runs/subgoal --bc runs/bc \\
        --dev-data data/annotated-dev --protocol quick

Runs on a CPU (the protocol's episodes, three agents); `--device cuda` moves the models.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from textgym.agents import load_agent
from textgym.agents.seq2seq.subgoal import OraclePlannerAgent, oracle_subgoals, planner_accuracy
from textgym.data.annotate import annotate_dataset
from textgym.data.gold import build_gold
from textgym.evaluation.evaluate import evaluate, protocol_episodes, summarize
from textgym.evaluation.protocols import get_protocol


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--subgoal", required=True, help="a trained sub-goal agent folder")
    parser.add_argument("--bc", help="a BC agent trained on the same data (optional)")
    parser.add_argument("--dev-data", required=True, help="annotated dev episodes (textgym data annotate)")
    parser.add_argument("--protocol", default="quick")
    parser.add_argument("--env", action="append", help="restrict to these env ids")
    parser.add_argument("--variations", type=int, help="variations per task (default: the protocol's)")
    parser.add_argument("--num-envs", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()

    agent = load_agent(args.subgoal, device=args.device)
    accuracy = planner_accuracy(agent.planner, args.dev_data, agent.prompt)
    print(f"planner exact match on dev sub-goal decisions: overall {100 * accuracy['overall']:.1f}%, "
          f"new sub-goal {100 * accuracy['new']:.1f}% ({accuracy['new_count']}), "
          f"keep {100 * accuracy['keep']:.1f}% ({accuracy['keep_count']})")

    protocol = get_protocol(args.protocol)
    episodes = protocol_episodes(protocol, args.env, args.variations)
    env_ids = sorted({spec.env_id for spec in episodes})
    per_task = max(spec_count(episodes, env_id) for env_id in env_ids)
    with tempfile.TemporaryDirectory() as scratch:
        gold, annotated = Path(scratch) / "gold", Path(scratch) / "annotated"
        build_gold(env_ids, gold, split=protocol.split, max_variations=per_task, progress=False,
                   simplification=protocol.make_kwargs.get("ScienceWorld", {}).get("simplification"))
        annotate_dataset(gold, annotated, progress=False)
        oracle = OraclePlannerAgent(agent.executor, oracle_subgoals(annotated), prompt=agent.prompt,
                                    num_beams=agent.num_beams, similarity=agent.similarity_name,
                                    max_subgoal_ends=agent.max_subgoal_ends, device=args.device)
    agents = {"sub-goal": agent, "sub-goal, oracle planner": oracle}
    if args.bc:
        agents = {"BC": load_agent(args.bc, device=args.device), **agents}
    print(f"\n{protocol.name}: {len(episodes)} episodes over {len(env_ids)} tasks (mean score 0-100)")
    for name, policy in agents.items():
        overall = summarize(evaluate(policy, episodes, num_envs=args.num_envs))["overall"]
        print(f"  {name:<26} {overall['score']:6.1f}")


def spec_count(episodes: list, env_id: str) -> int:
    return sum(spec.env_id == env_id for spec in episodes)


if __name__ == "__main__":
    main()
