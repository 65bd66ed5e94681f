"""Trainer configs as dataclasses, and the command line generated from them.

A trainer's settings are one dataclass (`DRRNTrainConfig`, ...), the single place where each
setting is named, typed, given a default and described (`option(help=...)`), as CleanRL's
`Args`. `add_arguments` turns the fields into `argparse` options (`max_episode_steps` becomes
`--max-episode-steps`; a nested dataclass field becomes an option group of its fields),
`from_arguments` builds the config back from the parsed options, and `to_arguments` writes the
options that repeat a config (the `command` of a training record).

    >>> import argparse
    >>> from dataclasses import dataclass
    >>> @dataclass
    ... class Example:
    ...     out: str = option(help="folder")
    ...     steps: int = option(100, help="optimizer steps")
    ...     env: tuple[str, ...] = option(("a",), help="repeatable")
    ...     progress: bool = option(True, flag="--quiet", help="no progress bars")
    >>> parser = argparse.ArgumentParser()
    >>> add_arguments(parser, Example)
    >>> config = from_arguments(Example, parser.parse_args(["--out", "x", "--env", "b", "--env", "c",
    ...                                                     "--quiet"]))
    >>> config
    Example(out='x', steps=100, env=('b', 'c'), progress=False)
    >>> to_arguments(config)
    ['--out', 'x', '--env', 'b', '--env', 'c', '--quiet']
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import shlex
import types
import typing
from collections.abc import Callable, Sequence
from typing import Any

_NONE = type(None)


def option(default: Any = dataclasses.MISSING, *, help: str, flag: str | None = None,
           choices: Sequence[str] | None = None, metavar: str | None = None,
           parse: Callable[[str], Any] | None = None) -> Any:
    """A config field with its command-line help. `flag` replaces the option's name (a bool field
    that defaults to True needs one: the flag turns it off, e.g. `--quiet` for `progress`);
    `parse` reads the option's text (a comma list, say) instead of the field's type."""
    metadata = {"help": help, "flag": flag, "choices": choices, "metavar": metavar, "parse": parse}
    if isinstance(default, list | dict | tuple) or dataclasses.is_dataclass(default):
        value = default
        return dataclasses.field(default_factory=lambda: _copy(value), metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


def _copy(value: Any) -> Any:
    return dataclasses.replace(value) if dataclasses.is_dataclass(value) else type(value)(value)


def _default(field: dataclasses.Field) -> Any:
    if field.default is not dataclasses.MISSING:
        return field.default
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return dataclasses.MISSING


def _base(kind: Any) -> tuple[Any, bool]:
    """(`kind` without `None`, whether None was allowed)."""
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        members = [k for k in typing.get_args(kind) if k is not _NONE]
        return members[0], len(members) < len(typing.get_args(kind))
    return kind, False


def _entries(cls: type) -> list[tuple[str, dataclasses.Field, Any, list[str]]]:
    """(dest, field, type, path of attribute names) for every option of `cls`, nested ones flattened."""
    hints = typing.get_type_hints(cls)
    found = []
    for field in dataclasses.fields(cls):
        kind, _ = _base(hints[field.name])
        if dataclasses.is_dataclass(kind):
            found += [(f"{field.name}.{dest}", f, k, [field.name, *path])
                      for dest, f, k, path in _entries(kind)]
        elif field.init:
            found.append((field.name, field, hints[field.name], [field.name]))
    return found


def _flag(field: dataclasses.Field) -> str:
    return field.metadata.get("flag") or "--" + field.name.replace("_", "-")


def add_arguments(parser: argparse.ArgumentParser, cls: type) -> None:
    """One option per field of the dataclass `cls` (see the module docstring)."""
    groups: dict[str, Any] = {}
    hints = typing.get_type_hints(cls)
    for dest, field, kind, path in _entries(cls):
        target = parser
        if len(path) > 1:
            title = path[0].replace("_", " ")
            outer = next(f for f in dataclasses.fields(cls) if f.name == path[0])
            if title not in groups:
                groups[title] = parser.add_argument_group(
                    title, outer.metadata.get("help") or (hints[path[0]].__doc__ or "").split("\n")[0])
            target = groups[title]
        meta = field.metadata
        default = _default(field)
        base, optional = _base(kind)
        help_text = meta.get("help") or ""
        shown = default is not dataclasses.MISSING and default is not None and not isinstance(default, bool)
        if shown and default not in ((), [], {}) and "default" not in help_text:
            shown = ", ".join(map(str, default)) if isinstance(default, tuple | list) else default
            help_text = f"{help_text} (default: {shown})".strip()
        kwargs: dict[str, Any] = {"dest": dest, "help": help_text or None}
        if meta.get("metavar"):
            kwargs["metavar"] = meta["metavar"]
        if meta.get("choices"):
            kwargs["choices"] = list(meta["choices"])
        if base is bool and optional:
            kwargs.update(action=argparse.BooleanOptionalAction, default=default)
        elif base is bool:
            kwargs.update(action="store_false" if default else "store_true")
        elif meta.get("parse"):
            kwargs.update(type=meta["parse"], default=default)
        elif typing.get_origin(base) in (tuple, list):
            kwargs.update(action="append", default=None, type=typing.get_args(base)[0])
        elif base is dict or typing.get_origin(base) is dict:
            kwargs.update(type=json.loads, default=default)
            kwargs.setdefault("metavar", "JSON")
        else:
            kwargs.update(type=base, default=default)
        if base is not bool and "choices" not in kwargs:
            kwargs.setdefault("metavar", _flag(field).lstrip("-").replace("-", "_").upper())
        if default is dataclasses.MISSING:
            kwargs.update(required=True, default=None)
        target.add_argument(_flag(field), **kwargs)


def from_arguments(cls: type, namespace: argparse.Namespace) -> Any:
    """The `cls` config of options parsed by a parser that `add_arguments(parser, cls)` set up."""
    values: dict[str, Any] = {}
    for dest, _, kind, path in _entries(cls):
        value = getattr(namespace, dest)
        if value is None and typing.get_origin(_base(kind)[0]) in (tuple, list):
            continue  # a repeatable option not given: the field's default
        if typing.get_origin(_base(kind)[0]) is tuple and value is not None:
            value = tuple(value)
        values.setdefault(path[0], {}) if len(path) > 1 else None
        (values[path[0]] if len(path) > 1 else values)[path[-1]] = value
    hints = typing.get_type_hints(cls)
    for name, value in list(values.items()):
        kind, _ = _base(hints[name])
        if dataclasses.is_dataclass(kind) and isinstance(value, dict):
            values[name] = kind(**value)
    return cls(**values)


def to_arguments(config: Any) -> list[str]:
    """The options that rebuild `config` (those that differ from the defaults)."""
    arguments: list[str] = []
    for _, field, kind, path in _entries(type(config)):
        value = config
        for name in path:
            value = getattr(value, name)
        default = _default(field)
        if value == default:
            continue
        base, optional = _base(kind)
        flag = _flag(field)
        if base is bool and optional:
            arguments.append(flag if value else "--no-" + flag.removeprefix("--"))
        elif base is bool:
            arguments.append(flag)
        elif field.metadata.get("parse") and isinstance(value, tuple | list):
            arguments += [flag, ",".join(map(str, value))]
        elif typing.get_origin(base) in (tuple, list):
            for item in value:
                arguments += [flag, str(item)]
        elif isinstance(value, dict):
            arguments += [flag, json.dumps(value)]
        elif value is not None:
            arguments += [flag, str(value)]
    return arguments


def command_line(command: str, config: Any) -> str:
    """`textgym COMMAND OPTIONS...` that repeats `config`, quoted for a shell."""
    return shlex.join(["textgym", *command.split(), *to_arguments(config)])
