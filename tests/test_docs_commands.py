"""The docs' examples run as written: every shell command the docs mark as a CPU example is executed.

A fenced code block of README.md or docs/*.md is opted in by an HTML comment on the line directly above its fence:

    <!-- docs-test: cpu -->      every command of the block runs on CPU, offline, in reasonable time
    <!-- docs-test: cpu 1,3 -->  only these commands of the block (1-based, in the block's order)

A marked command must be a `python -m <module> ...` line with nothing to fill in. It runs exactly as written (no
extra overrides) in a fresh directory laid out like a checkout (`../shared` beside it, linked to the team's shared
folder, so `../shared/data` resolves as the docs assume); its outputs land in that directory under `outputs/`. It
must exit 0, and where the docs state what it produces, `EXPECTED` checks that. Commands that need a GPU, the hub,
W&B online, an install or a long run stay unmarked.
"""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.conftest import REPO, read_jsonl, run_module

DOCS = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
SHELL_LANGUAGES = {"bash", "sh", "shell", "console"}
MARKER = re.compile(r"<!--\s*docs-test:\s*cpu(?:\s+(?P<which>[\d,\s]+?))?\s*-->")
SHARED = REPO.parent / "shared"


@dataclass
class Block:
    doc: str  # path relative to the repo
    line: int  # the opening fence's line (1-based)
    language: str
    commands: list[str]
    marker: str | None  # the docs-test marker line directly above the fence, if any


def block_commands(lines: list[str], console: bool) -> list[str]:
    """The commands of a shell block: continuation lines joined; in a `console` block only `$ ` lines count."""
    commands: list[str] = []
    pending = ""
    for raw in lines:
        line = raw.rstrip()
        if not pending:
            if console:
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            if not line.strip() or line.lstrip().startswith("#"):
                continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        commands.append(" ".join((pending + line).split()))
        pending = ""
    return commands


def doc_blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    index = 0
    while index < len(lines):
        fence = re.match(r"^```(\w*)\s*$", lines[index])
        if not fence:
            index += 1
            continue
        end = next(i for i in range(index + 1, len(lines)) if lines[i].startswith("```"))
        language = fence.group(1).lower()
        above = lines[index - 1] if index else ""
        if language in SHELL_LANGUAGES:
            blocks.append(
                Block(
                    doc=str(path.relative_to(REPO)),
                    line=index + 1,
                    language=language,
                    commands=block_commands(lines[index + 1 : end], console=language == "console"),
                    marker=above if MARKER.search(above) else None,
                )
            )
        index = end + 1
    return blocks


def argv(command: str) -> list[str]:
    """The command as words, its trailing `# ...` comment removed."""
    return shlex.split(command, comments=True)


def marked_commands() -> dict[str, list[str]]:
    """Each marked command (as words joined by spaces) -> where the docs show it (`doc:line`)."""
    found: dict[str, list[str]] = {}
    for doc in DOCS:
        for block in doc_blocks(doc):
            if block.marker is None:
                continue
            which = MARKER.search(block.marker).group("which")
            numbers = [int(n) for n in re.findall(r"\d+", which)] if which else range(1, len(block.commands) + 1)
            for number in numbers:
                assert 1 <= number <= len(block.commands), f"{block.doc}:{block.line}: no command {number}"
                found.setdefault(" ".join(argv(block.commands[number - 1])), []).append(f"{block.doc}:{block.line}")
    return found


# --- what the docs say each marked command produces --------------------------------------------------------------


def only_run_dir(pattern: str, cwd: Path) -> Path:
    runs = sorted(cwd.glob(pattern))
    assert len(runs) == 1, f"expected one run dir {pattern}, found {runs}"
    return runs[0]


def check_dry_run(stdout: str, cwd: Path) -> None:
    """README: "one JSON object: every GRPOConfig argument and more"; the JSON has grpo, rewards, model, ..."""
    import dataclasses

    from trl import GRPOConfig

    plan = json.loads(stdout)
    assert {"grpo", "rewards", "model", "dataset", "length", "peft", "rollout", "launcher", "logger"} <= set(plan)
    unknown = set(plan["grpo"]) - {f.name for f in dataclasses.fields(GRPOConfig)}
    assert not unknown, f"grpo holds arguments GRPOConfig does not have: {unknown}"


def check_tiny_evaluation(stdout: str, cwd: Path) -> None:
    """README: "the tiny model, 32 problems x 4 samples, CPU"; docs/EVALUATION.md "What it writes"."""
    out = only_run_dir("outputs/eval/tiny/*", cwd)
    for name in ("samples.jsonl", "results.json", "table.md"):
        assert (out / name).is_file(), name
    results = json.loads((out / "results.json").read_text())
    arithmetic = results["benchmarks"]["arithmetic"]
    assert (arithmetic["n_problems"], arithmetic["k"]) == (32, 4)
    assert len(read_jsonl(out / "samples.jsonl")) == 32 * 4


def check_custom_curation(stdout: str, cwd: Path) -> None:
    """docs/DATA.md: under outputs/data/<recipe>/<time>/ the data, card, report, removals and hits; `custom` is "a
    120-row example with every step"."""
    out = only_run_dir("outputs/data/custom/*", cwd)
    for name in ("train.jsonl", "README.md", "report.json", "removed.jsonl", "decontamination_hits.jsonl"):
        assert (out / name).is_file(), name
    assert len(read_jsonl(out / "train.jsonl")) == 120
    report = json.loads((out / "report.json").read_text())
    steps = [step["name"] for step in report["steps"]]
    assert steps == ["normalize", "dedupe", "verifiable", "decontaminate", "difficulty", "mix"]


@dataclass
class Expected:
    check: Callable[[str, Path], None] | None = None
    slow: bool = False  # seconds to minutes on 2 cores: generation with the tiny model
    needs_shared: bool = False  # reads ../shared/data (the team's collected files beside the checkout)


EXPECTED: dict[str, Expected] = {
    "python -m openrs +experiment=exp3 dry_run=true": Expected(check_dry_run),
    "python -m openrs +experiment=exp3 algorithm=dr_grpo dry_run=true": Expected(check_dry_run),
    "python -m openrs.evaluate": Expected(check_tiny_evaluation, slow=True),
    "python -m openrs.data +recipe=custom": Expected(check_custom_curation, slow=True, needs_shared=True),
}

MARKED = marked_commands()


def command_params() -> list:
    params = []
    for command in MARKED:
        expected = EXPECTED.get(command, Expected())
        marks = [pytest.mark.slow] if expected.slow else []
        params.append(pytest.param(command, expected, id=command.removeprefix("python -m "), marks=marks))
    return params


# --- the tests ---------------------------------------------------------------------------------------------------


def test_markers_select_runnable_commands() -> None:
    """Every marker sits on a shell block and selects `python -m ...` commands with nothing left to fill in."""
    for doc in DOCS:
        lines = doc.read_text().splitlines()
        for number, line in enumerate(lines, start=1):
            if MARKER.search(line):
                following = lines[number] if number < len(lines) else ""
                assert re.match(r"^```(bash|sh|shell|console)\s*$", following), (
                    f"{doc.relative_to(REPO)}:{number}: a docs-test marker must be directly above a shell block"
                )
    for command, where in MARKED.items():
        words = argv(command)
        assert words[:2] == ["python", "-m"] and len(words) >= 3, f"{where}: not a `python -m` command: {command}"
        assert not re.search(r"<[^>]*>|\.\.\.", command), f"{where}: a placeholder is left in {command}"
    assert len(MARKED) >= 4


def test_every_expected_output_belongs_to_a_marked_command() -> None:
    """Removing a marker must not silently drop the check of what that command produces."""
    assert set(EXPECTED) <= set(MARKED), set(EXPECTED) - set(MARKED)


@pytest.mark.parametrize(("command", "expected"), command_params())
def test_marked_docs_command_runs_as_written(command: str, expected: Expected, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"  # a fresh directory beside a `shared` link: the layout the docs assume
    checkout.mkdir()
    if SHARED.is_dir():
        (tmp_path / "shared").symlink_to(SHARED, target_is_directory=True)
    elif expected.needs_shared:
        pytest.skip(f"{SHARED} (the team's shared data beside the checkout) is not here")
    words = argv(command)
    result = run_module(words[2], *words[3:], cwd=checkout, timeout=900)
    assert result.returncode == 0, f"`{command}` ({', '.join(MARKED[command])}) failed:\n{result.stderr[-4000:]}"
    if expected.check:
        expected.check(result.stdout, checkout)
