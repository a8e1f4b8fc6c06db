"""What the benchmarks share: the machine line, the order of compared runs, median and spread.

Each benchmark prints ``machine_line()`` first (a reader judges the noise by it), runs the
compared sides in alternating order (``alternating``: A then B, then B then A, ...) and reports
every figure as ``median_spread``: the median and the range of the runs.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))  # the project's packages, for a benchmark run as a script

from workbench.paths import PROJECT_ROOT  # noqa: E402


def azurite_version() -> str:
    """The version of the project's Azurite (node_modules, pinned in package.json)."""
    try:
        doc = json.loads((PROJECT_ROOT / "node_modules" / "azurite" / "package.json").read_text())
    except (OSError, ValueError):
        return "unknown"
    return str(doc.get("version", "unknown"))


def machine_line() -> str:
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return (
        f"machine: {os.cpu_count()} cores, load average {load}; Azurite {azurite_version()}; "
        f"Python {platform.python_version()}"
    )


def alternating(round_index: int, first: str, second: str) -> tuple[str, str]:
    """The order of the two compared sides in round ``round_index`` (0-based): A B, B A, ..."""
    return (first, second) if round_index % 2 == 0 else (second, first)


def median_spread(values: Sequence[float], unit: str = "", digits: int = 2) -> str:
    """``median M (spread LO-HI, n=N)``, every number to ``digits`` decimals."""
    suffix = f" {unit}" if unit else ""
    return (
        f"median {statistics.median(values):.{digits}f}{suffix} "
        f"(spread {min(values):.{digits}f}-{max(values):.{digits}f}, n={len(values)})"
    )
