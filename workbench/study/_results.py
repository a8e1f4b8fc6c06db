"""Where the notebooks keep their results: JSON files in one output folder."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from workbench.errors import WorkbenchError
from workbench.paths import PROJECT_ROOT, RECORDINGS

# Which notebook writes which result file ({name} is a recording's folder name).
EXPLORE_FILE = "explore.json"
REPLAY_FILE = "replay-{name}.json"
SIMULATION_FILE = "simulation-{name}.json"
ROLLOUT_FILE = "rollout-{name}.json"  # every rollout option on the recording
FAULT_FILE = "rollout-fault-{name}.json"  # A/B on the fault recording
RATE_FILE = "rate-limit-{name}.json"
HAZARD_FILE = "hazard-{name}.json"
TUNING_FILE = "tuning.json"
RECOMMENDATION_FILE = "recommendation.json"
WRITTEN_BY = {
    EXPLORE_FILE: "01-explore-recordings",
    REPLAY_FILE: "02-replay-batch-vs-streaming",
    ROLLOUT_FILE: "02-replay-batch-vs-streaming",
    FAULT_FILE: "02-replay-batch-vs-streaming",
    RATE_FILE: "02-replay-batch-vs-streaming",
    SIMULATION_FILE: "03-simulate-keda",
    HAZARD_FILE: "03-simulate-keda",
    TUNING_FILE: "03-simulate-keda",
    RECOMMENDATION_FILE: "03-simulate-keda",
}


def recording_paths(recordings: Sequence[str | Path]) -> list[Path]:
    """Recording folders from names (under ``data/recordings``) or paths; at least one, names
    unique (result files are named after them)."""
    if isinstance(recordings, str | Path):
        recordings = [recordings]
    if not recordings:
        raise WorkbenchError("no recording given")
    paths = []
    for item in recordings:
        path = Path(item)
        if not path.exists() and len(path.parts) == 1:
            path = RECORDINGS / path
        if not path.is_dir():
            raise WorkbenchError(f"recording folder not found: {item}")
        paths.append(path.resolve())
    names = [p.name for p in paths]
    if len(set(names)) != len(names):
        raise WorkbenchError(f"two recordings with one folder name: {', '.join(names)}")
    return paths


def shown_path(path: str | Path) -> str:
    """A path relative to the project when it lies inside it (reports travel)."""
    try:
        return str(Path(path).resolve().relative_to(PROJECT_ROOT))
    except ValueError:
        return str(path)


class Results:
    """The JSON result files in ``out`` (created on first write)."""

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)

    def path(self, template: str, name: str = "") -> Path:
        return self.out / template.format(name=name)

    def exists(self, template: str, name: str = "") -> bool:
        return self.path(template, name).is_file()

    def load(self, template: str, name: str = "") -> dict[str, Any]:
        path = self.path(template, name)
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            writer = WRITTEN_BY.get(template)
            hint = f"; notebook {writer} writes it" if writer else ""
            raise WorkbenchError(f"result file not found: {path}{hint}") from None
        except ValueError as exc:
            raise WorkbenchError(f"{path}: not valid JSON ({exc})") from None
        if not isinstance(doc, dict):
            raise WorkbenchError(f"{path}: expected a JSON object")
        return doc

    def save(self, template: str, doc: dict[str, Any], name: str = "") -> Path:
        path = self.path(template, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(doc, indent=1, default=str), encoding="utf-8")
        tmp.replace(path)  # a reader never sees half a file
        return path
