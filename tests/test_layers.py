"""The package's layers: every textgym module imports only from its own layer or the ones below,
and no chain of imports (lazy ones inside functions included) comes back to where it started.

The order, lowest first, and why (README "Layout" says the same):
    base: validation, spaces, cache, distributed,  helpers that import only one another
          llm_backends (chat endpoints, local LMs: for the annotator and the LLM agent)
    envs: textgym (the package), envs              the simulators; importing textgym registers them
    data: data                                     gold paths, annotation, tokenizers (from envs)
    wrappers: wrappers                             observation encoding builds on data's tokenizers
    evaluation: evaluation                         protocols and the loop, usable by every agent
    agents: agents                                 the agents and their trainers
    baselines: baselines                           recipes, the bench, result tables, shipped agents
    play: play                                     `textgym play`
    cli: cli                                       the command line: on top, so nothing imports it
"""

from __future__ import annotations

import ast
from pathlib import Path

import textgym

PACKAGE = Path(textgym.__file__).parent
LAYERS = (
    ("textgym.validation", "textgym.spaces", "textgym.cache", "textgym.distributed", "textgym.llm_backends"),
    ("textgym", "textgym.envs"),
    ("textgym.data",),
    ("textgym.wrappers",),
    ("textgym.evaluation",),
    ("textgym.agents",),
    ("textgym.baselines",),
    ("textgym.play",),
    ("textgym.cli",),
)


def module_names() -> dict[str, Path]:
    names = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
        names[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    return names


def layer_of(module: str) -> int:
    """The layer whose prefix matches `module` longest (`textgym` itself only matches exactly)."""
    best, length = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            matches = module == prefix or (prefix != "textgym" and module.startswith(prefix + "."))
            if matches and len(prefix) > length:
                best, length = index, len(prefix)
    assert best is not None, f"{module} is in no layer: add it to LAYERS (and to README's Layout)"
    return best


def imports_of(path: Path, modules: dict[str, Path]) -> set[str]:
    """The textgym modules `path` imports anywhere in its code (a `from package import submodule`
    counts as the submodule)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            for alias in node.names:
                submodule = f"{node.module}.{alias.name}"
                found.add(submodule if submodule in modules else node.module)
    return {name for name in found if name in modules}


def import_graph() -> dict[str, set[str]]:
    modules = module_names()
    return {name: imports_of(path, modules) - {name} for name, path in modules.items()}


def test_no_module_imports_from_a_layer_above() -> None:
    upward = [f"{module} ({LAYERS[layer_of(module)][0]}) imports {target} ({LAYERS[layer_of(target)][0]})"
              for module, targets in import_graph().items() for target in sorted(targets)
              if layer_of(target) > layer_of(module)]
    assert not upward, "\n".join(upward)


def test_no_import_cycles() -> None:
    graph = import_graph()
    cycles, state = [], {}  # state: 1 = on the current path, 2 = done

    def visit(module: str, path: list[str]) -> None:
        state[module] = 1
        for target in sorted(graph[module]):
            if state.get(target) == 1:
                cycles.append(" -> ".join([*path[path.index(target):], target]))
            elif target not in state:
                visit(target, [*path, target])
        state[module] = 2

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    assert not cycles, "\n".join(cycles)

