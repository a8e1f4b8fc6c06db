"""The benchmarks of the performance issue still run against the code, at a tiny size.

``make bench`` is not part of the tests (it takes minutes and its figures are not pass/fail), so
a benchmark that no longer fits the code it drives (a renamed function, a changed signature its
tracer wraps) would otherwise break only there. Each one runs here on a few items and must
finish and print its figure line; the figures themselves are not checked.
"""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from workbench.paths import PROJECT_ROOT as ROOT

# (script, arguments for a tiny run, the start of its last line)
TINY_RUNS = [
    (
        "bench_enqueue_throughput.py",
        ["--items", "40", "--pairs", "1", "--concurrency", "8"],
        "ratio pipeline/raw SDK enqueue throughput",
    ),
    ("bench_first_item_vs_limit.py", ["--rounds", "1"], "first-item overhead, worst of 6 runs"),
    (
        "bench_history_load.py",
        ["--days", "2", "--items-per-day", "300", "--large-items-per-day", "900", "--repeats", "1"],
        "history load: design/ours at 2 x 300",
    ),
]


@pytest.mark.parametrize(("script", "args", "figure"), TINY_RUNS, ids=[r[0] for r in TINY_RUNS])
def test_the_benchmark_runs_and_prints_its_figure(script: str, args: list[str], figure: str):
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / script), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert done.returncode == 0, f"{script} failed:\n{done.stderr[-3000:]}"
    last = done.stdout.strip().splitlines()[-1]
    assert last.startswith(figure), last
    assert re.search(r"= \d+(\.\d+)?", last), last  # a number follows the figure's name
