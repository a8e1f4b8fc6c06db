"""Every path the workbench uses by default, in one place, resolved from the project root.

Commands, notebooks, benchmarks and tests import these, so a command started from another
directory still finds the project's files. Inputs (``data/``) are never written over; derived
files go to ``REPORTS`` and workbench state to ``STATE_DIR``.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent

# Inputs
DATA = PROJECT_ROOT / "data"
RECORDINGS = DATA / "recordings"
SHIPPED_RECORDING = RECORDINGS / "synthetic-tech"
DESIGN_SCALE_RECORDING = RECORDINGS / "design-scale"  # the design's own scale (issue 10)
FAULT_RECORDING = RECORDINGS / "stalled-feed"  # the A/B guardrail's fault case
SCALEDOBJECT = DATA / "keda" / "processor-scaledobject.yaml"
NOTEBOOKS = PROJECT_ROOT / "notebooks"

# Outputs
REPORTS = PROJECT_ROOT / "reports"

# Tools and state
AZURITE_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "azurite"
# The background Azurite's pid, ports and data (``workbench azurite start``); tests point it
# elsewhere with WORKBENCH_STATE_DIR.
STATE_DIR = Path(os.environ.get("WORKBENCH_STATE_DIR") or PROJECT_ROOT / ".workbench")
AZURITE_STATE_FILE = STATE_DIR / "azurite.json"
