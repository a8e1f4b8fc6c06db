"""``replay_recording`` with processors against the session's Azurite, and the one-line errors
of ``workbench replay`` (the report's tables: tests/workbench/test_report.py)."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pipeline.storage import StorageAccount
from sim import parse_distribution
from workbench.azurite import Azurite, connection_string, free_port
from workbench.paths import PROJECT_ROOT as ROOT
from workbench.replay import ReplayOptions, replay_recording

SHIPPED = ROOT / "data" / "recordings" / "synthetic-tech"
MODES = ("batch", "streaming")
# docs/metrics.md names, as keys of every run and of each mode's total.
RUN_KEYS = {
    "time_to_first_item_queued_seconds",
    "first_item_limit_seconds",
    "time_to_last_item_queued_seconds",
    "items_collected",
    "items_queued",
    "duplicates_skipped",
    "deduplication_hit_rate",
    "throughput_items_per_second",
}


@pytest.fixture(scope="module")
def processed(azurite: Azurite) -> tuple[dict[str, Any], dict[str, int]]:
    """The shipped recording in both modes with two processors; (result, result blobs by mode)."""

    async def go() -> tuple[dict[str, Any], dict[str, int]]:
        async with StorageAccount(azurite.connection_string) as account:
            result = await replay_recording(
                SHIPPED,
                account=account,
                options=ReplayOptions(
                    speed=50,
                    processors=2,
                    service_time=parse_distribution("constant(0.5)"),
                    keep=True,
                ),
            )
            blobs = {}
            for mode, doc in result["modes"].items():
                names = doc["end"]["resources"]
                try:
                    blobs[mode] = len(await account.container(names["processed"]).list())
                finally:
                    for queue in (names["queue"], names["poison_queue"]):
                        await account.delete_queue(queue)
                    for container in (names["collected"], names["processed"]):
                        await account.delete_container(container)
            return result, blobs

    return asyncio.run(go())


def test_every_queued_item_is_processed_exactly_once(
    processed: tuple[dict[str, Any], dict[str, int]],
) -> None:
    result, result_blobs = processed
    assert set(result["modes"]) == set(MODES)
    for mode in MODES:
        doc = result["modes"][mode]
        assert set(doc) >= {"runs", "total", "end"}
        assert len(doc["runs"]) == 3
        total = doc["total"]
        assert RUN_KEYS <= set(total), RUN_KEYS - set(total)
        for run in doc["runs"]:
            assert RUN_KEYS <= set(run), RUN_KEYS - set(run)
            assert len(run["messages"]) == run["items_queued"] > 0
            for message in run["messages"]:
                assert message["outcome"] == "processed", message
                assert message["processed_at"] is not None
                assert message["processed_at"] >= message["enqueued_at"]
            processing = run["processing"]
            assert processing["items_processed"] == run["items_queued"]
            assert processing["duplicates_absorbed"] == 0
            assert processing["redeliveries"] == 0
            assert processing["unprocessed"] == processing["poisoned"] == 0
            per_worker = processing["items_per_processor"]
            assert set(per_worker) == {"processor-1", "processor-2"}
            assert min(per_worker.values()) >= 0.25 * run["items_queued"], per_worker
        assert total["processing"]["items_processed"] == total["items_queued"]
        assert total["processing"]["redeliveries"] == 0
        assert total["content_hashes_queued_twice"] == 0
        # One result blob per item: none was processed under two content hashes.
        assert result_blobs[mode] == total["distinct_content_hashes"] == total["items_queued"]
        end = doc["end"]
        assert end["queue_depth_at_end"] == 0 and end["poison_queue_depth_at_end"] == 0
    batch, streaming = (result["modes"][m] for m in MODES)
    for run_b, run_s in zip(batch["runs"], streaming["runs"], strict=True):
        assert run_b["first_item_limit_seconds"] == run_s["first_item_limit_seconds"]
        limit = run_s["first_item_limit_seconds"]
        assert limit <= run_s["time_to_first_item_queued_seconds"] < 60
        assert (
            run_s["time_to_first_item_queued_seconds"] < run_b["time_to_first_item_queued_seconds"]
        )
    json.dumps(result)  # plain JSON, no objects that need default=str


@pytest.mark.xfail(
    strict=True,
    reason="KNOWN LIMIT: processor times are clock.now(); at speed 50 one item's storage round "
    "trips (~36 ms wall = ~1.8 recording s) exceed the 0.5 s service time, so the replay cannot "
    "represent this scenario (the service time absorbs the real work only up to its own length)",
)
def test_processing_times_do_not_grow_with_replay_speed(
    processed: tuple[dict[str, Any], dict[str, int]],
) -> None:
    # 8 slots (2 processors x 4) at a constant 0.5 s: the queue empties about n/8 * 0.5 s
    # after the last send; twice that plus 10 s leaves room for real storage round trips.
    for mode in MODES:
        for run in processed[0]["modes"][mode]["runs"]:
            bound = run["time_to_last_item_queued_seconds"] + 2 * run["items_queued"] / 8 * 0.5
            assert run["processing"]["makespan_seconds"] <= bound + 10, (mode, run["run"])


# -- the command line ------------------------------------------------------------------------
def _workbench(*args: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``python -m workbench.cli ...`` with storage that is configured but never reached."""
    env = {
        **os.environ,
        "AZURE_STORAGE_CONNECTION_STRING": connection_string(free_port(), free_port()),
        "WORKBENCH_STATE_DIR": str(tmp_path / "state"),
    }
    return subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def _error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "error" in line.lower()]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--recording", "/nonexistent"), "recording folder not found: /nonexistent"),
        (("--speed", "0"), "argument --speed: must be a finite number > 0"),
        (
            ("--service-time", "normal(1)"),
            "argument --service-time: distribution 'normal(1)': unknown distribution 'normal'",
        ),
        (("--processors", "-1"), "argument --processors: must be at least 0"),
        (("--mode", "nope"), "invalid choice: 'nope'"),
    ],
)
def test_replay_errors_are_one_line(args: tuple[str, ...], expected: str, tmp_path: Path) -> None:
    done = _workbench("replay", *args, tmp_path=tmp_path)
    assert done.returncode == 2, done.stderr
    assert "Traceback" not in done.stderr
    [line] = _error_lines(done.stderr)
    assert line.startswith("workbench replay: error: ") and expected in line, done.stderr
    assert done.stdout == ""


def test_missing_recording_is_reported_before_storage_is_touched(tmp_path: Path) -> None:
    done = _workbench("replay", "--recording", "/nonexistent", tmp_path=tmp_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        "workbench replay: error: recording folder not found: /nonexistent"
    ]


def _linear_percentile(values: list[float], q: float) -> float:
    """Percentile by linear interpolation between closest ranks, written out independently."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def test_replay_latency_percentiles_use_the_simulations_definition(
    processed: tuple[dict[str, Any], dict[str, int]],
) -> None:
    """Replayed and simulated p50/p95 are read with one definition (linear interpolation), so
    the report can show them side by side."""
    result, _ = processed
    for doc in result["modes"].values():
        for run in doc["runs"]:
            latencies = [
                m["processed_at"] - m["enqueued_at"]
                for m in run["messages"]
                if m["processed_at"] is not None
            ]
            for q in (50, 95):
                got = run["processing"][f"latency_p{q}_seconds"]
                assert got == pytest.approx(_linear_percentile(latencies, q), abs=1e-9)
