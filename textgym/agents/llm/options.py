"""The command-line options of the LLM agent, shared by `textgym eval --agent llm` and
`textgym bench --agents llm`: both build the same `LLMAgent` from them."""

from __future__ import annotations

import argparse
from pathlib import Path

from textgym.agents.base import AGENT_FILE
from textgym.cache import write_json_atomic
from textgym.wrappers.chat import STYLES

LLM_CLASS = "textgym.agents.llm.agent:LLMAgent"


def add_llm_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("LLM agent (--agent(s) llm)")
    group.add_argument("--endpoint", default=None, metavar="URL",
                       help="OpenAI-compatible API base, e.g. http://127.0.0.1:8000/v1 "
                            "(default: run --model here)")
    group.add_argument("--model", default="smollm2",
                       help="the endpoint's model name; without --endpoint a folder, .gguf file, "
                            "local hub id or 'smollm2' (default)")
    group.add_argument("--api-key-env", default="OPENAI_API_KEY", metavar="VAR",
                       help="environment variable holding the endpoint's API key (default: OPENAI_API_KEY)")
    group.add_argument("--prompt-style", default="act", choices=STYLES,
                       help="act: one command; react: a thought, then the command (default: act)")
    group.add_argument("--temperature", type=float, default=0.0, help="0: greedy (default)")
    group.add_argument("--max-tokens", type=int, default=None, help="reply budget per step")
    group.add_argument("--context-tokens", type=int, default=2048,
                       help="prompt budget; older turns are dropped to fit (default: 2048)")
    group.add_argument("--show-commands", type=int, default=0, metavar="N",
                       help="admissible commands listed per turn (default: 0)")
    group.add_argument("--show-look", action="store_true", help="add the look to every turn")
    group.add_argument("--show-inventory", action="store_true", help="add the inventory to every turn")
    group.add_argument("--ground", default="overlap", choices=("none", "overlap", "minilm"),
                       help="replace a non-admissible command by the most similar admissible one "
                            "(default: overlap)")
    group.add_argument("--concurrency", type=int, default=8, help="endpoint requests at once (default: 8)")
    group.add_argument("--request-timeout", type=float, default=60.0,
                       help="seconds per request (default: 60)")
    group.add_argument("--retries", type=int, default=3, help="retries on 429/5xx/timeouts (default: 3)")


def llm_config(args: argparse.Namespace) -> dict:
    """`LLMAgent` keyword arguments from the options (no device)."""
    return {"model": args.model, "endpoint": args.endpoint, "api_key_env": args.api_key_env,
            "style": args.prompt_style, "temperature": args.temperature, "max_tokens": args.max_tokens,
            "context_tokens": args.context_tokens, "max_commands": args.show_commands, "look": args.show_look,
            "inventory": args.show_inventory, "ground": args.ground, "concurrency": args.concurrency,
            "timeout": args.request_timeout, "retries": args.retries}


def bench_agent(args: argparse.Namespace, out: Path) -> str:
    """The LLM agent of a bench run as a saved agent directory (`out/llm-agent`), which every
    backend (local or Ray) loads like any other agent."""
    from textgym.agents.llm.agent import LLMAgent

    LLMAgent.check_config(llm_config(args))
    directory = out / "llm-agent"
    write_json_atomic(directory / AGENT_FILE, {"class": LLM_CLASS, "config": llm_config(args)})
    return str(directory)
