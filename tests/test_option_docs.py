"""Every option has one doc line: the field comments of the config dataclasses are the options' reference.

A field is documented by a `# ...` comment at the end of its line, or by the comment line(s) directly above it.
The test walks every field reachable from the three entry points' schemas (`python -m openrs`, `python -m
openrs.evaluate`, `python -m openrs.data`), into nested dataclasses (also inside `X | None`, lists and dicts).
"""

from __future__ import annotations

import ast
import dataclasses
import inspect
import io
import re
import textwrap
import tokenize
import typing
from functools import cache
from pathlib import Path

from openrs.config import EvaluateConfig, OpenRSConfig
from openrs.data.curation.config import CurateConfig

REPO = Path(__file__).resolve().parent.parent
ROOTS = {"": OpenRSConfig, "evaluate:": EvaluateConfig, "curate:": CurateConfig}


@cache
def field_comments(cls: type) -> dict[str, str]:
    """Each field of `cls` (by name) -> its doc comment ('' when it has none), read from the class's source."""
    source = textwrap.dedent(inspect.getsource(cls))
    lines = source.splitlines()
    comments: dict[int, str] = {}  # line number (1-based) -> the comment's text
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type == tokenize.COMMENT:
            comments[token.start[0]] = token.string.lstrip("#").strip()
    class_node = ast.parse(source).body[0]
    assert isinstance(class_node, ast.ClassDef)
    found = {}
    for node in class_node.body:
        if not (isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name)):
            continue
        text = [comments.get(node.lineno, "")]  # trailing comment on the field's (first) line
        above = node.lineno - 1
        while above >= 1 and lines[above - 1].strip().startswith("#"):  # whole comment lines directly above
            text.insert(0, comments.get(above, ""))
            above -= 1
        found[node.target.id] = " ".join(part for part in text if part).strip()
    return found


def nested_dataclasses(annotation: object) -> list[type]:
    """The dataclass types inside a field's type: itself, or inside `X | None`, `list[X]`, `dict[str, X]`."""
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return [annotation]
    return [cls for arg in typing.get_args(annotation) for cls in nested_dataclasses(arg)]


def walk(cls: type, prefix: str, seen: set[type]):
    """(dotted option name, class, field name) for every field reachable from `cls`, each class once."""
    if cls in seen:
        return
    seen.add(cls)
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        declared_in = next(base for base in cls.__mro__ if f.name in base.__dict__.get("__annotations__", {}))
        yield f"{prefix}{f.name}", declared_in, f.name  # an inherited field is documented where it is declared
        for nested in nested_dataclasses(hints[f.name]):
            yield from walk(nested, f"{prefix}{f.name}.", seen)


def all_options() -> list[tuple[str, type, str]]:
    seen: set[type] = set()
    return [option for prefix, root in ROOTS.items() for option in walk(root, prefix, seen)]


def test_the_walk_reaches_every_group() -> None:
    names = {name for name, _, _ in all_options()}
    for expected in (
        "optimizer.learning_rate",
        "dataset.drop_limits.total",
        "eval.during_training.k",
        "evaluate:target",
        "curate:recipe.sources.synthetic",
        "curate:recipe.steps.only_sources",
    ):
        assert expected in names, expected
    assert len(names) > 150


def test_every_option_has_a_doc_comment() -> None:
    missing = [
        f"{name} ({cls.__name__})" for name, cls, field_name in all_options() if not field_comments(cls)[field_name]
    ]
    assert not missing, (
        f"{len(missing)} config fields have no doc comment (a `# ...` at the end of the field's line, or on the "
        "line(s) directly above it); the field comments are the options' reference:\n  " + "\n  ".join(missing)
    )


def test_doc_comments_say_something() -> None:
    """A comment of a word or two is a placeholder, not documentation."""
    short = [
        f"{name}: {field_comments(cls)[field_name]!r}"
        for name, cls, field_name in all_options()
        if field_comments(cls)[field_name] and len(field_comments(cls)[field_name]) < 12
    ]
    assert not short, "doc comments too short to say what the option does:\n  " + "\n  ".join(short)


def test_readme_points_to_the_field_comments_as_the_reference() -> None:
    paragraphs = (REPO / "README.md").read_text().split("\n\n")
    pointer = [p for p in paragraphs if "`openrs/config.py`" in p and "comment" in p and "reference" in p]
    assert pointer, "README must say that the field comments in openrs/config.py are the options' reference"
    assert "`openrs/data/curation/config.py`" in pointer[0], "... and point to the curation schema too"


def code_outside_declarations() -> str:
    """The package's source with the config fields' own declaration lines removed (what reads the options)."""
    declaration = re.compile(r"^\s+\w+: [^=]+=.*$|^\s+\w+: [\w\[\], |.]+$")
    texts = []
    for path in sorted((REPO / "openrs").rglob("*.py")):
        lines = path.read_text().splitlines()
        if path.name == "config.py":
            lines = [line for line in lines if not declaration.match(line)]
        texts.append("\n".join(lines))
    return "\n".join(texts)


def test_every_option_is_read_somewhere() -> None:
    """An option nothing reads does nothing (issue 11 found seven). A leaf field's name must appear as an attribute
    (`.name`) or a key (`"name"`) somewhere in the code besides its declaration."""
    code = code_outside_declarations()
    assert ".max_completion_length" in code and "\n    max_completion_length: int" not in code  # the filter works
    unread = sorted(
        name
        for name, cls, field_name in all_options()
        if not nested_dataclasses(typing.get_type_hints(cls)[field_name])
        and not re.search(rf"\.{field_name}\b|[\"']{field_name}[\"']", code)
    )
    assert not unread, "options that no code reads (wire each or remove it):\n  " + "\n  ".join(unread)
