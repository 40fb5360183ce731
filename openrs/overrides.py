"""Command-line overrides checked against the schema before Hydra composes the config.

Hydra answers a misspelt key with advice to add `+` (which then fails against the schema) and a malformed override
with its grammar's parse error. Here each override is read first: a key the schema lacks is named with the closest
valid key, `+` on a key the schema has is refused with the plain form, a value of the wrong type is named with the
type, and `--flag=value` arguments get the Hydra form. Config-group choices (`model=...`) are left to Hydra, whose
message lists the options.
"""

from __future__ import annotations

import dataclasses
import difflib
import enum
import sys
import types
import typing
from collections.abc import Iterator
from typing import Any

from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import ChoiceSweep, Override
from hydra.errors import HydraException
from omegaconf.errors import ValidationError
from omegaconf.nodes import BooleanNode, EnumNode, FloatNode, IntegerNode

from openrs.config import CONF_DIR
from openrs.config_search import SearchPath, search_path
from openrs.errors import ConfigError
from openrs.locations import check_locations

#: Hydra's own command-line flags (hydra/_internal/utils.py get_args_parser), with whether each takes a value.
HYDRA_FLAGS = {
    "--help": False, "-h": False, "--hydra-help": False, "--version": False, "--resolve": False, "--run": False,
    "-r": False, "--multirun": False, "-m": False, "--cfg": True, "-c": True, "--package": True, "-p": True,
    "--info": False, "-i": False, "--config-path": True, "-cp": True, "--config-name": True, "-cn": True,
    "--config-dir": True, "-cd": True, "--experimental-rerun": True, "--shell-completion": False, "-sc": False,
}  # fmt: skip
SCALAR_NODES = {bool: (BooleanNode, "true or false"), int: (IntegerNode, "an integer"), float: (FloatNode, "a number")}
GRAMMAR = "https://hydra.cc/docs/advanced/override_grammar/basic/"


def check_overrides(
    argv: list[str], schema: type, example: str = "train.max_steps=3", config_name: str = "config"
) -> None:
    """Raise a ConfigError naming the first argument that Hydra would refuse or misread, and its fix."""
    search = search_path(argv)
    for argument in hydra_overrides(argv, schema, example):
        try:
            override = OverridesParser.create().parse_overrides([argument])[0]
        except HydraException as err:
            raise ConfigError(unreadable(argument, schema, example, err)) from err
        if search.has_group(override.key_or_group):
            check_group_choice(override, config_name, search)
        check_override(override, schema, search)


def check_group_choice(override: Override, config_name: str, search: SearchPath) -> None:
    """A config-group choice names an option that exists in some config dir, and takes `+` when the root config does
    not list its group (experiment, sweep, recipe)."""
    group = override.key_or_group
    options = search.options(group)
    for value in override_values(override):
        if isinstance(value, str) and value not in options and search.complete:
            near = difflib.get_close_matches(value, options, n=1, cutoff=0.5)
            hint = f"did you mean {group}={near[0]}? " if near else ""
            where = ", ".join(str(folder / group) for folder in search.dirs if (folder / group).is_dir())
            raise ConfigError(f"{group}={value}: no such {group} config. {hint}Options: {', '.join(options)} "
                              f"(in {where}).")  # fmt: skip
    listed = {next(iter(entry)) if isinstance(entry, dict) else entry for entry in root_defaults(config_name, search)}
    if group not in listed and not override.is_add() and not override.is_delete():
        raise ConfigError(f"{override.input_line}: {group} is chosen with a `+` (the base config has none): "
                          f"+{override.input_line}.")  # fmt: skip


def root_defaults(config_name: str, search: SearchPath | None = None) -> list[Any]:
    """The defaults list of a root config (the first `<config_name>.yaml` on the search path)."""
    import yaml

    path = search.primary(config_name) if search is not None else CONF_DIR / f"{config_name}.yaml"
    loaded = yaml.safe_load(path.read_text())
    return list(loaded.get("defaults", [])) if isinstance(loaded, dict) else []


def hydra_overrides(argv: list[str], schema: type, example: str) -> Iterator[str]:
    """The override arguments of argv, after refusing `--flag=value` arguments that are not Hydra's flags."""
    arguments = iter(argv)
    for argument in arguments:
        if not argument.startswith("-"):
            yield argument
            continue
        flag = argument.split("=", 1)[0]
        if flag not in HYDRA_FLAGS:
            name = flag.lstrip("-").replace("-", "_")
            value = argument.split("=", 1)[1] if "=" in argument else "VALUE"
            guess = closest_key(name, schema)
            instead = f"{guess}={value}" if guess else example
            raise ConfigError(
                f"{argument}: not an option. openrs takes Hydra overrides, key=value without dashes, e.g. {instead} "
                "(`--help` lists the config groups)."
            )
        if HYDRA_FLAGS[flag] and "=" not in argument:
            next(arguments, None)


def unreadable(argument: str, schema: type, example: str, err: Exception) -> str:
    """The message for an override Hydra's grammar cannot parse."""
    key = argument.split("=", 1)[0].lstrip("+~")
    if "=" not in argument and key.replace(".", "").replace("_", "").isalnum():
        return f"{argument}: an override needs a value: {argument}=VALUE (e.g. {example})."
    problem, closers = unbalanced(argument.split("=", 1)[1]) if "=" in argument else (None, "")
    if problem:
        example = f", e.g. {argument}{closers}" if closers else ""
        return f"{argument}: {problem}{example}. Grammar: {GRAMMAR}"
    detail = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
    return (
        f"{argument}: cannot read this override ({detail}). Write key=value, e.g. {example}; quote values with "
        f"spaces or special characters: '{key}=\"a b\"'. Grammar: {GRAMMAR}"
    )


PAIRS = {"[": "]", "{": "}", "(": ")"}


def unbalanced(value: str) -> tuple[str | None, str]:
    """(what is unbalanced in an override's value: an unclosed bracket, brace or quote, or a stray closer; the
    closers that would complete it), or (None, "") when everything is closed."""
    stack: list[str] = []
    quote = None
    for char in value:
        if quote:
            quote = None if char == quote else quote
        elif char in "'\"":
            quote = char
        elif char in PAIRS:
            stack.append(char)
        elif char in PAIRS.values():
            if not stack or PAIRS[stack[-1]] != char:
                return f"the value has a `{char}` that closes nothing", ""
            stack.pop()
    if quote:
        return f"the value opens a {quote} quote that is not closed", ""
    if stack:
        closers = "".join(PAIRS[opener] for opener in reversed(stack))
        what = ", ".join(f"`{opener}`" for opener in stack)
        return f"the value leaves {what} open: end it with `{closers}`", closers
    return None, ""


def check_override(override: Override, schema: type, search: SearchPath) -> None:
    """Refuse an override whose key the schema lacks, a `+` on a schema key, or a value of the wrong type."""
    key = override.key_or_group
    if key.startswith("hydra.") or key == "hydra" or "/" in key or override.package:
        return  # Hydra's own settings, and config-group paths (hydra/launcher=...): Hydra checks those
    parts = key.split(".")
    if len(parts) == 1 and search.has_group(key):
        return  # a config-group choice (model=..., +experiment=...): checked by check_group_choice
    leaf_type, addable = resolve_key(parts, schema, search, adding=override.is_add())
    if override.is_delete():
        if not addable:
            raise ConfigError(f"{override.input_line}: an option cannot be removed, only set: e.g. {key}=null.")
        return
    if override.is_add() and not addable:
        raise ConfigError(
            f"{override.input_line}: {key} is already an option, so it takes no `+`: write "
            f"{override.input_line.lstrip('+')}."
        )
    if leaf_type is not None:
        for value in override_values(override):
            check_value(key, value, leaf_type)


def resolve_key(parts: list[str], schema: type, search: SearchPath, adding: bool = False) -> tuple[Any, bool]:
    """(the field's type or None when free-form, whether a new key may be added there with `+`: under a dict), or
    a ConfigError naming the closest key (or, `adding`, refusing a new entry of a dict of dataclasses)."""
    node: Any = schema
    depth, under_dict = 0, False
    while depth < len(parts):
        node = unwrap_optional(node)
        if typing.get_origin(node) is dict and typing.get_args(node):
            node, depth, under_dict = typing.get_args(node)[1], depth + 1, True  # parts[depth]: a free dict key
            if is_dataclass_type(unwrap_optional(node)) and adding:
                raise ConfigError(
                    f"+{'.'.join(parts)}: a new {'.'.join(parts[: depth - 1])} entry cannot be added from the command "
                    f"line (OmegaConf cannot build a typed {unwrap_optional(node).__name__} there). Write it in a "
                    f"config file (e.g. conf/recipe/, docs/DATA.md), or change an existing entry without `+`."
                )
            continue
        if typing.get_origin(node) is list and is_dataclass_type(element := typing.get_args(node)[0]):
            if not parts[depth].isdigit():
                whole = ".".join(parts[:depth])
                raise ConfigError(f"{'.'.join(parts)}: {whole} is a list; name an entry by its index, e.g. "
                                  f"{whole}.0.{next(iter(typing.get_type_hints(element)))}=...")  # fmt: skip
            node, depth = element, depth + 1  # parts[depth]: an index into the list
            continue
        if not is_dataclass_type(node):
            return None, True  # Any, list, a dict of anything: free-form below
        hints = typing.get_type_hints(node)
        if parts[depth] not in hints:
            raise ConfigError(unknown_key(parts, depth, node, schema, search))
        node, depth = hints[parts[depth]], depth + 1
    return node, under_dict or typing.get_origin(unwrap_optional(node)) is dict


def unknown_key(parts: list[str], depth: int, parent: type, schema: type, search: SearchPath) -> str:
    """The message for a key the schema lacks: the closest key at that level, else one with that name elsewhere."""
    key, prefix = ".".join(parts), ".".join(parts[:depth])
    names = list(typing.get_type_hints(parent))
    groups = search.groups() if depth == 0 else []
    near = difflib.get_close_matches(parts[depth], names + groups, n=1, cutoff=0.6)
    near = near or [name for name in names if name.startswith(parts[depth])][:1]
    guess = ".".join([*parts[:depth], near[0], *parts[depth + 1 :]]) if near else closest_key(parts[-1], schema)
    hint = f"did you mean {guess}? " if guess and guess != key else ""
    where = f"{prefix} ({parent.__name__})" if prefix else "the top level"
    return (
        f"{key}: no such option. {hint}Valid keys at {where}: {', '.join(names)}. A `+` does not help: every option "
        "is in the schema (openrs/config.py)."
    )


def closest_key(name: str, schema: type) -> str | None:
    """The full key (e.g. `train.max_steps`) whose last part is closest to `name`, or None."""
    keys = dict(leaf_keys(schema))
    near = difflib.get_close_matches(name, list(keys), n=1, cutoff=0.75)
    return keys[near[0]] if near else None


def leaf_keys(schema: type, prefix: str = "") -> Iterator[tuple[str, str]]:
    """(last part, full key) of every option in the schema's dataclasses."""
    for name, hint in typing.get_type_hints(schema).items():
        inner = unwrap_optional(hint)
        if is_dataclass_type(inner):
            yield from leaf_keys(inner, f"{prefix}{name}.")
        else:
            yield name, f"{prefix}{name}"


def override_values(override: Override) -> list[Any]:
    """The value(s) an override sets: one, or each of a choice sweep's; none for ranges and interpolations."""
    value = override.value()
    if isinstance(value, ChoiceSweep):
        return list(value.list)
    return [] if override.is_sweep_override() else [value]


def check_value(key: str, value: Any, expected: Any) -> None:
    """Refuse a value OmegaConf would fail to convert to the field's type (as Hydra would, later), naming the type."""
    optional = unwrap_optional(expected) is not expected
    expected = unwrap_optional(expected)
    if value is None:
        if not optional:
            raise ConfigError(f"{key}=null: this option cannot be null; give a value or leave it out.")
        return
    if isinstance(value, str) and value.startswith("${"):
        return
    container = {dict: (dict, "a mapping, e.g. {name: value}"), list: (list, "a list, e.g. [1, 2]")}
    if typing.get_origin(expected) in container:
        kind, wanted = container[typing.get_origin(expected)]
        if not isinstance(value, kind):
            raise ConfigError(f"{key}={value}: must be {wanted}.")
        check_entries(key, value, typing.get_args(expected))
        return
    if is_dataclass_type(expected):
        check_fields(key, value, expected)
        return
    if isinstance(expected, type) and issubclass(expected, enum.Enum):
        node, wanted = lambda v: EnumNode(enum_type=expected, value=v), f"one of {', '.join(m.value for m in expected)}"
    elif expected in SCALAR_NODES:
        node, wanted = SCALAR_NODES[expected]
    else:
        return
    try:
        node(value)
    except ValidationError as err:
        raise ConfigError(f"{key}={value}: must be {wanted}.") from err


def check_entries(key: str, value: list[Any] | dict[str, Any], args: tuple[Any, ...]) -> None:
    """Each element of a list (or each value of a dict) against the container's element type."""
    if not args:
        return
    items = value.items() if isinstance(value, dict) else enumerate(value)
    for name, item in items:
        check_value(f"{key}.{name}", item, args[-1])


def check_fields(key: str, value: Any, schema: type) -> None:
    """A mapping given for a dataclass (e.g. one `reward.functions` entry): known keys, each value of its type."""
    if not isinstance(value, dict):
        raise ConfigError(f"{key}={value}: must be a mapping of {', '.join(typing.get_type_hints(schema))}.")
    hints = typing.get_type_hints(schema)
    for name, item in value.items():
        if name not in hints:
            near = difflib.get_close_matches(str(name), list(hints), n=1, cutoff=0.6)
            hint = f"did you mean {near[0]}? " if near else ""
            raise ConfigError(f"{key}.{name}: no such key. {hint}Valid keys here: {', '.join(hints)}.")
        check_value(f"{key}.{name}", item, hints[name])


def is_dataclass_type(node: Any) -> bool:
    return isinstance(node, type) and dataclasses.is_dataclass(node)


def unwrap_optional(hint: Any) -> Any:
    """`X | None` -> X; anything else as it is."""
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        return args[0] if len(args) == 1 else hint
    return hint


def refuse_bad_overrides(
    prog: str, schema: type, example: str = "train.max_steps=3", config_name: str = "config"
) -> None:
    """At a CLI's start: a bad override, or a location that cannot be written (openrs.locations), ends the process
    with one clear line (exit 2) before Hydra composes or creates anything."""
    try:
        check_overrides(sys.argv[1:], schema, example, config_name)
        check_locations(sys.argv[1:])
    except ConfigError as err:
        sys.stderr.write(f"{prog}: error: {err}\n")
        sys.exit(2)
