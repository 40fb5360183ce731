"""`python -m openrs.compare RUN_OR_MULTIRUN_DIR... [--out DIR] [--last N] [--baseline RUN] [--eval-preset NAME]
[--x step|tokens]`."""

from __future__ import annotations

import argparse
import sys
from datetime import datetime
from pathlib import Path

from openrs.compare import compare
from openrs.errors import run_explained


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m openrs.compare",
        description="Compare training runs: a table (markdown and CSV) and plots over steps, one line per run.",
    )
    parser.add_argument(
        "inputs",
        nargs="+",
        metavar="INPUT",
        help="a run dir, a multirun dir (multirun.yaml), or wandb:<entity>/<project>/<group> (online only)",
    )
    parser.add_argument("--out", type=Path, default=None, help="output dir (default: outputs/compare/<timestamp>)")
    parser.add_argument(
        "--last", type=_positive, default=10, help="average training metrics over the last N logged steps (10)"
    )
    parser.add_argument(
        "--baseline",
        default=None,
        metavar="RUN",
        help="a run name or dir (or an evaluation dir with results.json): adds cost per accuracy point gained",
    )
    parser.add_argument(
        "--eval-preset",
        default=None,
        metavar="NAME",
        help="take eval scores from <run>/eval/NAME/ (default: any preset but validation and during_training)",
    )
    parser.add_argument(
        "--x",
        choices=["step", "tokens"],
        default="step",
        help="the plots' x axis: the training step (default), or the tokens generated so far (runs at equal cost)",
    )
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return run_explained("openrs.compare", lambda: compare_and_print(args))


def compare_and_print(args: argparse.Namespace) -> int:
    """Compare, then print where the table and plots went, and the table."""
    out_dir = args.out or Path("outputs") / "compare" / datetime.now().strftime("%Y-%m-%d_%H-%M-%S")
    result = compare(args.inputs, out_dir, last=args.last, baseline=args.baseline, eval_preset=args.eval_preset,
                     x=args.x)  # fmt: skip
    print(f"table     {result.markdown_path}")
    print(f"csv       {result.csv_path}")
    for path in result.plots:
        print(f"plot      {path}")
    print()
    print(result.markdown, end="")
    return 0


if __name__ == "__main__":
    sys.exit(main())
