"""Notebook 02: each recording replayed in both modes against Azure Storage, or the cached result.

The replay JSON (``replay-{name}.json``, the document ``workbench replay --json`` writes, plus
the settings it was made with) is reused when it is newer than every file of the recording and
was made with the same settings and the same code (a digest of ``pipeline/`` and the replay
harness); otherwise the replay runs (Azurite or the configured storage, as ``workbench replay``).
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pipeline
from pipeline.collect import CollectorOptions
from sim import parse_distribution
from workbench import replay as replay_harness
from workbench.replay import MODES, ReplayOptions, run_replay
from workbench.study import _sync
from workbench.study._results import REPLAY_FILE, Results, recording_paths, shown_path


def _stderr(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def code_digest() -> str:
    """A digest of the code a replay runs: the pipeline package and the replay harness."""
    root = Path(pipeline.__file__).parent
    digest = hashlib.sha256()
    for path in [*sorted(root.rglob("*.py")), Path(replay_harness.__file__)]:
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()[:16]


def replay_settings(
    *,
    speed: float,
    processors: int,
    processor_concurrency: int,
    service_time: str,
    seed: int,
    rate_limit: float | None = None,
) -> dict[str, Any]:
    """The settings a cached replay must match to be reused."""
    return {
        "modes": list(MODES),
        "speed": float(speed),
        "processors": int(processors),
        "processor_concurrency": int(processor_concurrency),
        "service_time": str(service_time),
        "seed": int(seed),
        "rate_limit_items_per_s": rate_limit,
        "code": code_digest(),
    }


def newest_input_mtime(recording: Path) -> float:
    """The latest modification time of any file in the recording folder."""
    return max((p.stat().st_mtime for p in recording.rglob("*") if p.is_file()), default=0.0)


def cached_replay(
    recording: Path, results: Results, settings: dict[str, Any]
) -> dict[str, Any] | None:
    """The cached replay document when it is newer than the recording and made with
    ``settings``; else None."""
    path = results.path(REPLAY_FILE, recording.name)
    if not path.is_file() or path.stat().st_mtime <= newest_input_mtime(recording):
        return None
    doc = results.load(REPLAY_FILE, recording.name)
    return doc if doc.get("replay_settings") == settings else None


def replay_recordings(
    recordings: list[str | Path],
    results: Results,
    *,
    speed: float,
    processors: int,
    processor_concurrency: int = 4,
    service_time: str,
    seed: int = 0,
    use_cache: bool = True,
    progress: Callable[[str], None] = _stderr,
) -> dict[str, dict[str, Any]]:
    """Replay (or load) every recording in both modes; writes ``replay-{name}.json`` each."""
    settings = replay_settings(
        speed=speed,
        processors=processors,
        processor_concurrency=processor_concurrency,
        service_time=service_time,
        seed=seed,
    )
    out = {}
    for recording in recording_paths(recordings):
        doc = cached_replay(recording, results, settings) if use_cache else None
        if doc is not None:
            progress(
                f"{recording.name}: using the cached replay "
                f"{shown_path(results.path(REPLAY_FILE, recording.name))} (newer than the "
                "recording, same settings)"
            )
        else:
            options = ReplayOptions(
                speed=speed,
                processors=processors,
                processor_concurrency=processor_concurrency,
                service_time=parse_distribution(service_time),
                collector=CollectorOptions(),
                seed=seed,
            )
            progress(f"{recording.name}: replaying both modes at speed {speed:g}")
            doc = _sync.call(run_replay, recording, MODES, options, progress)
            doc["recording"] = shown_path(recording)
            doc["replay_settings"] = settings
            results.save(REPLAY_FILE, doc, recording.name)
        out[recording.name] = doc
    return out
