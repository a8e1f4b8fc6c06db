"""Paths of the project's inputs and outputs, in one place (notebooks import these)."""

from __future__ import annotations

from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
DATA = PROJECT_ROOT / "data"
RECORDINGS = DATA / "recordings"
SHIPPED_RECORDING = RECORDINGS / "synthetic-tech"
SCALEDOBJECT = DATA / "keda" / "processor-scaledobject.yaml"
REPORTS = PROJECT_ROOT / "reports"
NOTEBOOKS = PROJECT_ROOT / "notebooks"
