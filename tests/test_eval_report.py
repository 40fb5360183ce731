"""openrs.evaluation.report on fixture results: Table 2 layout, curves, plots and validation-only checkpoint choice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from openrs.errors import ConfigError
from openrs.evaluation.report import (
    PAPER_TABLE2,
    best_checkpoint,
    plot_run,
    run_curves,
    table2_markdown,
    training_curves,
    write_report,
)

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def bench(pass1: float, ci: list[float] | None = None, k: int = 8) -> dict:
    """One benchmark entry of results.json."""
    entry = {"n_problems": 30, "k": k, "pass@1": pass1, "confidence": 0.95, "pass@k": {"1": pass1}}
    return entry | ({"ci": ci} if ci is not None else {})


def results(step: int, benchmarks: dict[str, dict]) -> dict:
    """A results.json dict with the evaluator's average."""
    mean = sum(b["pass@1"] for b in benchmarks.values()) / len(benchmarks)
    return {
        "model": {"name_or_path": f"run/checkpoint-{step}", "revision": "main", "step": step},
        "benchmarks": benchmarks,
        "average": {"pass@1": mean, "benchmarks": list(benchmarks)},
        "wall_time_s": 1.0,
        "tokens_per_s": 1.0,
    }


def write_results(run_dir: Path, eval_name: str, step: int, benchmarks: dict[str, dict]) -> None:
    path = run_dir / "eval" / eval_name / f"checkpoint-{step}" / "results.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results(step, benchmarks)))


def write_validation(run_dir: Path, scores: dict[int, float]) -> None:
    for step, score in scores.items():
        write_results(run_dir, "validation", step, {"validation": bench(score, [score - 0.05, score + 0.05], k=4)})


@pytest.fixture
def run_dir(tmp_path: Path) -> Path:
    """A fake run: 3 checkpoints, metrics.jsonl, a test evaluation (best: 150) and a validation one (best: 100)."""
    run = tmp_path / "outputs" / "grpo" / "2026-01-01_00-00-00"
    for step in (50, 100, 150):
        (run / f"checkpoint-{step}").mkdir(parents=True)
    lines = [
        {"step": s, "completions/mean_length": 4000.0 - 10 * s, "completions/clipped_ratio": 0.2 - s / 1000}
        for s in (50, 100, 150)
    ]
    lines.insert(1, {"step": 25, "completions/mean_length": 4200.0, "completions/clipped_ratio": 0.25})
    lines.append({"step": 100, "completions/mean_length": 2900.0})  # a resumed run logs step 100 again
    lines.append({"step": 150, "train_runtime": 10.0})  # the final summary log: no lengths
    (run / "metrics.jsonl").write_text("\n".join(json.dumps(line) for line in lines) + '\n{"step": 15')
    test_scores = {150: (0.40, 0.86), 50: (0.30, 0.82), 100: (0.35, 0.84)}  # written out of order on purpose
    for step, (aime, math) in test_scores.items():
        write_results(run, "test", step, {"aime24": bench(aime, [aime - 0.1, aime + 0.1]), "math500": bench(math)})
    write_validation(run, {50: 0.50, 100: 0.60, 150: 0.55})
    return run


FULL = results(
    50,
    {
        "aime24": bench(0.3125, [0.22, 0.41]),
        "math500": bench(0.846, [0.83, 0.862], k=4),
        "amc23": bench(0.725, [0.65, 0.80]),
        "minerva": bench(0.29, [0.26, 0.32], k=4),
        "olympiadbench": bench(0.52, [0.50, 0.54], k=4),
    },
)
PARTIAL = results(0, {"aime24": bench(0.3, k=1), "math500": bench(0.85, k=1), "aime25": bench(0.25, [0.2, 0.3])})

EXPECTED_TABLE = """\
| Model | AIME24 | MATH-500 | AMC23 | Minerva | OlympiadBench | Avg | AIME25 |
|---|---:|---:|---:|---:|---:|---:|---:|
| ours step 50 | 31.2 ± 9.5 | 84.6 ± 1.6 | 72.5 ± 7.5 | 29.0 ± 3.0 | 52.0 ± 2.0 | 53.9 | — |
| base \\| k=1 | 30.0 | 85.0 | — | — | — | — | 25.0 ± 5.0 |
| *published: Open-RS, arXiv 2503.16219, Table 2* |  |  |  |  |  |  |  |
| DeepSeek-R1-Distill-Qwen-1.5B | 28.8 | 82.8 | 62.9 | 26.5 | 43.3 | 48.9 | — |
| Still-3-1.5B-Preview | 32.5 | 84.4 | 66.7 | 29.0 | 45.4 | 51.6 | — |
| DeepScaleR-1.5B-Preview | 43.1 | 87.8 | 73.6 | 30.2 | 50.0 | 57.0 | — |
| Open-RS1 (100 steps) | 30.0 | 83.8 | 70.0 | 29.0 | 52.4 | 53.0 | — |
| Open-RS2 (50 steps) | 30.0 | 85.4 | 80.0 | 30.5 | 52.4 | 55.7 | — |
| Open-RS3 (50 steps) | 46.7 | 84.4 | 72.5 | 26.8 | 51.3 | 56.3 | — |

- Scores: pass@1 in %, one decimal; `—`: not evaluated.
- `x ± h`: h is the half-width of the 95% confidence interval of pass@1 (z·se without an interval).
- Avg: unweighted mean of pass@1 over the five Table 2 benchmarks (AIME25 excluded, as in the paper).
- base \\| k=1: Avg `—` because AMC23, Minerva, OlympiadBench not evaluated; a mean over fewer benchmarks is not \
comparable with the paper's Avg.
- Our protocol: pass@1 is the mean over k samples per problem (ours step 50: k=8 (AIME24, AMC23), k=4 (MATH-500, \
Minerva, OlympiadBench); base \\| k=1: k=8 (AIME25), k=1 (AIME24, MATH-500)).
- Published rows (Open-RS, arXiv 2503.16219, Table 2): lighteval, temperature 0.6, top_p 0.95, up to 32768 new \
tokens, 1 sample per problem, one run, no interval. One-sample scores on small benchmarks such as AIME24 (30 \
problems) move by several points between seeds (arXiv 2504.07086): a gap smaller than our ± is not evidence of a \
difference.
"""


def test_table_exact_layout() -> None:
    assert table2_markdown([("ours step 50", FULL), ("base | k=1", PARTIAL)]) == EXPECTED_TABLE


def test_paper_rows_exact() -> None:
    """The numbers of the paper's Table 2, cell by cell, in the rendered table too."""
    columns = ("aime24", "math500", "amc23", "minerva", "olympiadbench", "avg")
    published = {  # model: AIME24, MATH-500, AMC23, Minerva, OlympiadBench, Avg
        "DeepSeek-R1-Distill-Qwen-1.5B": (28.8, 82.8, 62.9, 26.5, 43.3, 48.9),
        "Still-3-1.5B-Preview": (32.5, 84.4, 66.7, 29.0, 45.4, 51.6),
        "DeepScaleR-1.5B-Preview": (43.1, 87.8, 73.6, 30.2, 50.0, 57.0),
        "Open-RS1 (100 steps)": (30.0, 83.8, 70.0, 29.0, 52.4, 53.0),
        "Open-RS2 (50 steps)": (30.0, 85.4, 80.0, 30.5, 52.4, 55.7),
        "Open-RS3 (50 steps)": (46.7, 84.4, 72.5, 26.8, 51.3, 56.3),
    }
    assert PAPER_TABLE2 == {model: dict(zip(columns, row, strict=True)) for model, row in published.items()}
    lines = table2_markdown([("ours", FULL)]).splitlines()
    assert "| Open-RS3 (50 steps) | 46.7 | 84.4 | 72.5 | 26.8 | 51.3 | 56.3 |" in lines
    assert lines[0] == "| Model | AIME24 | MATH-500 | AMC23 | Minerva | OlympiadBench | Avg |"  # no AIME25: no column


def test_without_paper_and_missing_benchmark() -> None:
    text = table2_markdown([("partial", results(0, {"aime24": bench(0.5), "minerva": bench(0.25, k=1)}))], False)
    lines = text.splitlines()
    assert lines[2] == "| partial | 50.0 | — | — | 25.0 | — | — |"
    assert "published" not in text.lower() and len([line for line in lines if line.startswith("|")]) == 3
    assert any("Avg `—` because MATH-500, AMC23, OlympiadBench not evaluated" in line for line in lines)


def test_plus_minus_from_se_when_no_interval() -> None:
    entry = {"k": 8, "pass@1": 0.5, "se": 0.05, "confidence": 0.95}
    assert (
        table2_markdown([("se", results(0, {"aime24": entry}))], False)
        .splitlines()[2]
        .startswith("| se | 50.0 ± 9.8 |")
    )


def test_run_curves_sorted_by_step(run_dir: Path) -> None:
    curves = run_curves(run_dir, "test")
    assert [c["step"] for c in curves] == [50, 100, 150]
    assert [c["aime24"] for c in curves] == [0.30, 0.35, 0.40]
    assert curves[0]["average"] == pytest.approx((0.30 + 0.82) / 2)
    assert curves[0]["ci"] == {"aime24": [pytest.approx(0.2), pytest.approx(0.4)]}


def test_training_curves(run_dir: Path) -> None:
    curves = training_curves(run_dir)  # skips the summary line and the half-written last line
    assert [c["step"] for c in curves] == [25, 50, 100, 150]
    assert curves[1] == {
        "step": 50,
        "completions/mean_length": 3500.0,
        "completions/clipped_ratio": pytest.approx(0.15),
    }
    assert curves[2]["completions/mean_length"] == 2900.0  # step 100 logged twice (a resume): the last record wins
    assert training_curves(run_dir / "nowhere") == []


def test_best_checkpoint_uses_validation_not_test(run_dir: Path) -> None:
    best = best_checkpoint(run_dir)
    assert best["step"] == 100  # the test benchmarks would pick 150
    assert max(run_curves(run_dir, "test"), key=lambda c: c["average"])["step"] == 150
    assert best["path"] == run_dir / "checkpoint-100"
    assert best["score"] == 0.60 and best["ci"] == [pytest.approx(0.55), pytest.approx(0.65)]
    assert [c["step"] for c in best["candidates"]] == [50, 100, 150]


def test_best_checkpoint_ties_go_to_earliest(tmp_path: Path) -> None:
    write_validation(tmp_path, {300: 0.7, 200: 0.7, 100: 0.6})
    assert best_checkpoint(tmp_path)["step"] == 200
    assert best_checkpoint(tmp_path, metric="pass@1")["score"] == 0.7


def test_best_checkpoint_without_validation_errors(run_dir: Path) -> None:
    for path in sorted((run_dir / "eval" / "validation").rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    with pytest.raises(ConfigError, match="validation split") as error:
        best_checkpoint(run_dir)
    assert "eval/test" in str(error.value)  # it saw the test results and still refused them


def test_plots_and_report(run_dir: Path, tmp_path: Path) -> None:
    out = tmp_path / "report"
    pngs = plot_run(run_dir, "test", out)
    assert [p.name for p in pngs] == ["accuracy_test.png", "completion_length.png"]
    for png in pngs:
        data = png.read_bytes()
        assert data.startswith(PNG_MAGIC) and len(data) > 1000
    paths = write_report(out, [("step 100", FULL)], run_dir=run_dir)  # the only non-validation eval: "test"
    assert set(paths) == {"table", "curves", "accuracy_plot", "length_plot"}
    assert paths["table"].read_text().startswith("| Model | AIME24 |")
    curves = json.loads(paths["curves"].read_text())
    assert [c["step"] for c in curves["eval"]] == [50, 100, 150]
    assert curves["best_checkpoint"]["step"] == 100 and len(curves["training"]) == 4
    assert write_report(tmp_path / "table_only", [("x", FULL)]).keys() == {"table"}


def test_import_does_not_load_matplotlib() -> None:
    code = "import sys, openrs.evaluation.report; print('matplotlib' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout == "False\n"
