"""Per-source modes in a replay and the rollout options, against the session's Azurite.

The expected content hashes come from the recording alone, computed here (sources read one
after another with no storage, the dedup rule of docs/contracts.md), never from the replay
being checked; the queue's own messages are read back to count what reached it.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from pipeline.recording import Recording, replay_run_sequential
from pipeline.storage import StorageAccount
from workbench.azurite import Azurite
from workbench.paths import PROJECT_ROOT as ROOT
from workbench.replay import ReplayOptions, replay_runs
from workbench.rollout import (
    Guardrails,
    ab_bucket,
    check_guardrails,
    plan_steps,
    run_rollout,
)

STALLED = ROOT / "data" / "recordings" / "stalled-feed"
STALLED_SOURCE = "martin-fowler"
SPEED = 100.0


def expected_hashes(path: Path) -> set[str]:
    """Every run's new content hashes: an item is new when none of its keys (source id,
    canonical link, content hash) was seen in its run or among the earlier runs' new items."""
    recording = Recording.open(path)
    seen: set[str] = set()
    hashes: set[str] = set()
    for run in recording.runs:
        items = asyncio.run(replay_run_sequential(recording, run.index)).all_items()
        in_run: set[str] = set()
        new: set[str] = set()
        for item in items:
            keys = set(item.dedup_keys())
            if not keys & (seen | in_run):
                new |= keys
                hashes.add(item.content_hash)
            in_run |= keys
        seen |= new
    return hashes


async def drain_hashes(account: StorageAccount, queue_name: str) -> Counter[str]:
    """Receive and delete every message on the queue; their content hashes, counted."""
    queue = account.queue(queue_name)
    found: Counter[str] = Counter()
    while batch := await queue.receive(32, visibility_timeout=60):
        for message in batch:
            found[message.json()["content_hash"]] += 1
            await queue.delete(message)
    return found


# Run 0 all batch, run 1 Reddit and Hacker News streaming, run 2 back again and the rest
# streaming: every source changes mode at least once, in both directions.
SWITCHES = (
    {},
    {"reddit-python": "streaming", "hn-frontpage": "streaming"},
    {"lwn-headlines": "streaming", "martin-fowler": "streaming", "fosstodon-python": "streaming"},
)


def test_switching_modes_between_runs_queues_every_content_hash_exactly_once(
    azurite: Azurite,
) -> None:
    recording = Recording.open(STALLED)
    plan_seen: list[dict[str, str]] = []

    def modes_for_run(rec: Recording, index: int, done: Any) -> dict[str, str]:
        modes = {s.name: "batch" for s in rec.sources.sources} | SWITCHES[index]
        plan_seen.append(modes)
        return modes

    async def go() -> tuple[dict[str, Any], Counter[str]]:
        async with StorageAccount(azurite.connection_string) as account:
            doc = await replay_runs(
                recording,
                account=account,
                modes_for_run=modes_for_run,
                label="switch",
                options=ReplayOptions(speed=SPEED, keep=True),
            )
            names = doc["end"]["resources"]
            try:
                return doc, await drain_hashes(account, names["queue"])
            finally:
                for q in (names["queue"], names["poison_queue"]):
                    await account.delete_queue(q)
                for c in (names["collected"], names["processed"]):
                    await account.delete_container(c)

    doc, on_queue = asyncio.run(go())
    # Each run ran in the modes planned for it, sources of both modes in one run.
    for run, planned in zip(doc["runs"], plan_seen, strict=True):
        assert run["modes"] == planned
        assert {s["mode"] for s in run["per_source"].values()} == set(planned.values())
        for name, mode in planned.items():
            assert {m["mode"] for m in run["messages"] if m["source_name"] == name} <= {mode}
    assert doc["runs"][1]["mode"] == doc["runs"][2]["mode"] == "mixed"
    expected = expected_hashes(STALLED)
    assert len(expected) > 50
    assert set(on_queue) == expected, (expected - set(on_queue), set(on_queue) - expected)
    assert max(on_queue.values()) == 1, [h for h, n in on_queue.items() if n > 1]


def test_a_mixed_run_sends_batch_items_after_their_collection_and_streaming_ones_at_once(
    azurite: Azurite,
) -> None:
    """``--mode configured``-style run: streaming sources' items come as they are parsed,
    batch sources' items only after every batch source was read (the stalled feed among them)."""
    recording = Recording.open(STALLED)
    batch_sources = {"lwn-headlines", STALLED_SOURCE}

    def modes_for_run(rec: Recording, index: int, done: Any) -> dict[str, str]:
        return {s.name: "batch" if s.name in batch_sources else "streaming"
                for s in rec.sources.sources}  # fmt: skip

    async def go() -> dict[str, Any]:
        async with StorageAccount(azurite.connection_string) as account:
            return await replay_runs(
                recording,
                account=account,
                modes_for_run=modes_for_run,
                label="mixed",
                options=ReplayOptions(speed=SPEED),
            )

    doc = asyncio.run(go())
    for run in doc["runs"]:
        streamed = [m["enqueued_at"] for m in run["messages"] if m["mode"] == "streaming"]
        batched = [m["enqueued_at"] for m in run["messages"] if m["mode"] == "batch"]
        assert streamed and batched
        # The stalled feed answers after 70-80 s: batch sends wait for it, streaming ones not.
        assert max(streamed) < 30 < 70 < min(batched)


def test_ab_bucket_is_a_stable_hash_of_the_name() -> None:
    import hashlib

    # Independent: the first 32 bits of SHA-256, as a fraction of 2**32.
    for name in ("reddit-python", "martin-fowler", "hn-frontpage"):
        digest = hashlib.sha256(name.encode()).digest()
        assert ab_bucket(name) == int.from_bytes(digest[:4], "big") / 2**32
    sources = [(f"source-{i}", "rss") for i in range(40)]
    steps = plan_steps("ab", sources)
    shares = [sum(m == "streaming" for m in s.modes.values()) / 40 for s in steps]
    assert shares[-1] == 1.0
    assert shares[0] < shares[1] < shares[2]
    # A source that streams at a share streams at every larger share.
    for small, large in zip(steps, steps[1:], strict=False):
        assert {n for n, m in small.modes.items() if m == "streaming"} <= {
            n for n, m in large.modes.items() if m == "streaming"
        }


def test_phased_steps_follow_the_design_weeks() -> None:
    sources = [("r", "reddit"), ("f", "rss"), ("m", "mastodon")]
    steps = plan_steps("phased", sources)
    assert [s.modes for s in steps] == [
        {"r": "streaming", "f": "batch", "m": "batch"},
        {"r": "streaming", "f": "streaming", "m": "batch"},
        {"r": "streaming", "f": "streaming", "m": "streaming"},
    ]
    big_bang = plan_steps("big-bang", sources)
    assert [set(s.modes.values()) for s in big_bang] == [{"batch"}, {"streaming"}]


def _run_doc(**per_source: dict[str, Any]) -> dict[str, Any]:
    messages = []
    sources = {}
    for name, spec in per_source.items():
        for h in spec.get("hashes", []):
            messages.append({"content_hash": h, "processing_key": h, "source_name": name})
        sources[name] = {
            "mode": spec.get("mode", "streaming"),
            "time_to_first_item_queued_seconds": spec.get("first"),
            "collector": {"requests": spec.get("requests", 2), "errors": spec.get("errors", {})},
        }
    return {"run": 1, "messages": messages, "per_source": sources}


def test_guardrails_trip_on_each_rule_for_that_source_only() -> None:
    rails = Guardrails(first_item_queued_s=60, error_rate=0.25)
    doc = _run_doc(
        slow={"first": 61.0, "hashes": ["a"]},
        fine={"first": 59.9, "hashes": ["b"]},
        failing={"first": None, "requests": 4, "errors": {"http": 2}},
        doubled={"first": 1.0, "hashes": ["c", "c"]},
        again={"first": 1.0, "hashes": ["d"]},
        batch={"mode": "batch", "first": 130.0, "hashes": ["e", "e"]},
    )
    checks = check_guardrails(doc, {"d": 1}, rails)
    tripped = {(c["source"], c["check"]) for c in checks if c["tripped"]}
    assert tripped == {
        ("slow", "first_item_queued_s"),
        ("failing", "error_rate"),
        ("doubled", "content_hashes_queued_twice"),
        ("again", "content_hashes_queued_twice"),
    }
    # Batch sources are not judged: the guardrails watch the streaming path.
    assert not any(c["source"] == "batch" for c in checks)
    # At the threshold nothing trips: "above", not "at".
    edge = _run_doc(edge={"first": 60.0, "requests": 4, "errors": {"timeout": 1}})
    assert not any(c["tripped"] for c in check_guardrails(edge, {}, rails))


def test_distinct_short_posts_with_one_text_are_not_a_hash_queued_twice() -> None:
    """Two "How?" posts share a content hash but are two items (their processing keys differ:
    docs/dedup.md); the same post queued twice is one item twice."""
    rails = Guardrails(first_item_queued_s=60, error_rate=0.25)
    doc = _run_doc(shorts={"first": 1.0, "hashes": []}, same={"first": 1.0, "hashes": []})
    doc["messages"] = [
        {"content_hash": "h", "processing_key": "id-1", "source_name": "shorts"},
        {"content_hash": "h", "processing_key": "id-2", "source_name": "shorts"},
        {"content_hash": "g", "processing_key": "id-3", "source_name": "same"},
        {"content_hash": "g", "processing_key": "id-3", "source_name": "same"},
    ]
    tripped = {c["source"] for c in check_guardrails(doc, {}, rails) if c["tripped"]}
    assert tripped == {"same"}


@pytest.fixture(scope="module")
def ab_stalled(azurite: Azurite, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """``workbench rollout --option ab`` on the stalled-feed recording, from the CLI."""
    out = tmp_path_factory.mktemp("rollout") / "ab.json"
    proc = _workbench(
        azurite, "rollout", "--recording", str(STALLED), "--option", "ab",
        "--speed", str(SPEED), "--json", str(out),
    )  # fmt: skip
    doc = json.loads(out.read_text())
    doc["_stdout"], doc["_stderr"] = proc.stdout, proc.stderr
    return doc


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if k != "AZURE_STORAGE_CONNECTION_STRING"}


def _workbench(azurite: Azurite, *args: str) -> subprocess.CompletedProcess[str]:
    """``workbench ARGS`` in a process of its own against the session's Azurite; must pass."""
    proc = subprocess.run(
        [sys.executable, "-m", "workbench.cli", *args],
        capture_output=True,
        text=True,
        timeout=300,
        env={**_env(), "AZURE_STORAGE_CONNECTION_STRING": azurite.connection_string},
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def test_ab_guardrail_switches_the_stalled_source_back_and_leaves_the_others(
    ab_stalled: dict[str, Any],
) -> None:
    doc = ab_stalled
    assert set(doc) >= {"option", "steps", "fallbacks", "end"}
    assert doc["option"] == "ab"
    for step in doc["steps"]:
        assert set(step) >= {"name", "modes", "total", "per_source", "guardrails"}
    # The stalled feed trips the first-item guardrail in the first run it streams, once.
    assert [(f["source"], f["reason"].split(" at ")[0]) for f in doc["fallbacks"]] == [
        (STALLED_SOURCE, "first item queued")
    ]
    fallback = doc["fallbacks"][0]
    step_names = [s["name"] for s in doc["steps"]]
    tripped_step = step_names.index(fallback["step"])
    runs = [(i, r) for i, s in enumerate(doc["steps"]) for r in range(len(s["run_modes"]))]
    first_streamed = next(
        (i, r) for i, r in runs if doc["steps"][i]["run_modes"][r][STALLED_SOURCE] == "streaming"
    )
    assert first_streamed == (tripped_step, fallback["run"])
    # From its next run on it is batch, in this step and the later ones (100 % included).
    later = [(i, r) for i, r in runs if (i, r) > first_streamed]
    assert later
    for i, r in later:
        assert doc["steps"][i]["run_modes"][r][STALLED_SOURCE] == "batch"
    assert doc["end"]["modes"][STALLED_SOURCE] == "batch"
    assert doc["steps"][-1]["modes"][STALLED_SOURCE] == "streaming"  # the plan said stream
    # The others are unaffected: they stream wherever their step says so, none tripped, and
    # each source queues what it queues in the other steps.
    for i, r in runs:
        planned = doc["steps"][i]["modes"]
        actual = doc["steps"][i]["run_modes"][r]
        assert {n: m for n, m in actual.items() if n != STALLED_SOURCE} == {
            n: m for n, m in planned.items() if n != STALLED_SOURCE
        }
    tripped = {c["source"] for s in doc["steps"] for c in s["guardrails"] if c["tripped"]}
    assert tripped == {STALLED_SOURCE}
    queued = [{n: p["items_queued"] for n, p in s["per_source"].items()} for s in doc["steps"]]
    assert all(q == queued[0] for q in queued), queued
    final = doc["steps"][-1]["per_source"]
    for name, source in final.items():
        if name != STALLED_SOURCE:
            assert source["modes"] == ["streaming"] * 3
            assert source["time_to_first_item_queued_seconds_max"] < 30
    # Nothing lost, nothing twice, in any step.
    expected = len(expected_hashes(STALLED))
    for step in doc["steps"]:
        assert step["content_hashes_expected"] == expected
        assert step["content_hashes_lost"] == step["content_hashes_queued_twice"] == 0
        assert step["total"]["distinct_content_hashes"] == expected
    # Progress per step and run, and the fallback said in the output.
    assert doc["_stderr"].count("ab: step ") >= 2 * len(doc["steps"])
    assert f"guardrail: {STALLED_SOURCE}" in doc["_stderr"]
    assert f"{STALLED_SOURCE} back to batch" in doc["_stdout"]


def test_big_bang_and_phased_report_the_guardrail_without_acting(azurite: Azurite) -> None:
    async def go(option: str) -> dict[str, Any]:
        async with StorageAccount(azurite.connection_string) as account:
            return await run_rollout(
                STALLED, option, account=account, options=ReplayOptions(speed=SPEED)
            )

    for option, n_steps in (("big-bang", 2), ("phased", 3)):
        doc = asyncio.run(go(option))
        assert len(doc["steps"]) == n_steps
        assert doc["fallbacks"] == []
        assert doc["end"]["content_hashes_lost"] == doc["end"]["content_hashes_queued_twice"] == 0
        last = doc["steps"][-1]
        assert set(last["modes"].values()) == {"streaming"}
        trips = [c for c in last["guardrails"] if c["tripped"]]
        assert {c["source"] for c in trips} == {STALLED_SOURCE}
        assert all(c["action"].startswith("none") for c in trips)
        assert all(m == last["modes"] for m in last["run_modes"])


def test_rollout_cli_refuses_a_bad_option_and_recording(tmp_path: Path) -> None:
    bad = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "rollout", "--option", "canary"],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert bad.returncode == 2 and "invalid choice: 'canary'" in bad.stderr
    missing = subprocess.run(
        [sys.executable, "-m", "workbench.cli", "rollout", "--option", "ab",
         "--recording", str(tmp_path / "nope")],
        capture_output=True, text=True, env=_env(), timeout=60,
    )  # fmt: skip
    assert missing.returncode == 2
    assert len(missing.stderr.strip().splitlines()) == 1, missing.stderr
    assert "nope" in missing.stderr


def test_replay_mode_configured_runs_each_source_in_its_sources_yaml_mode(
    azurite: Azurite, tmp_path: Path
) -> None:
    """``workbench replay --mode configured``: a copy of the recording whose sources.yaml puts
    two sources on batch replays as one mixed run per run, every other source streaming."""
    import shutil

    recording = tmp_path / "stalled-mixed"
    shutil.copytree(STALLED, recording)
    yaml_path = recording / "sources.yaml"
    text = yaml_path.read_text()
    for name in ("lwn-headlines", STALLED_SOURCE):
        text = text.replace(f"{{name: {name},", f"{{name: {name}, mode: batch,")
    yaml_path.write_text(text)
    out = tmp_path / "replay.json"
    _workbench(
        azurite, "replay", "--recording", str(recording), "--mode", "configured",
        "--speed", str(SPEED), "--json", str(out),
    )  # fmt: skip
    doc = json.loads(out.read_text())
    assert list(doc["modes"]) == ["configured"]
    for run in doc["modes"]["configured"]["runs"]:
        modes = {n: s["mode"] for n, s in run["per_source"].items()}
        assert {n for n, m in modes.items() if m == "batch"} == {"lwn-headlines", STALLED_SOURCE}
        assert run["mode"] == "mixed"
    total = doc["modes"]["configured"]["total"]
    assert total["content_hashes_queued_twice"] == 0
    assert total["distinct_content_hashes"] == len(expected_hashes(STALLED))
