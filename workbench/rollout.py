"""The rollout options run as they would happen (docs/rollout.md), against Azure Storage.

An option is a sequence of steps; each step is a full set of the recording's runs on fresh
storage resources (one queue, one collection container, one history index), each source in the
mode the step gives it:

- ``big-bang``: every source on batch, then every source on streaming;
- ``phased``: week 1 the Reddit sources stream, week 3 the RSS sources too, week 4 all
  (Mastodon last), a per-source ``mode`` as in sources.yaml;
- ``ab``: a stable hash of the source name (:func:`ab_bucket`) puts a share of the sources on
  streaming; the share grows (25, 50, 100 %). After every run the guardrails
  (:class:`Guardrails`) are checked for each streaming source; a source that trips one is
  switched back to batch from its next run on, and stays there for the rest of the rollout (a
  guardrail is a stop for a person to look at, not a retry).

The guardrails are checked and reported in every option; only ``ab`` acts on them. Every step
is also checked against the recording itself: the content hashes it should queue (each run's
new items, :func:`expected_content_hashes`, computed without storage) against those it queued,
so a lost or doubled item shows in ``content_hashes_lost`` / ``content_hashes_queued_twice``.
Items are told apart by their processing key (``ContentItem.processing_key``: the content hash,
or the post's id when its text is too short to identify it, ``docs/dedup.md``).

``run_rollout`` returns the JSON document ``workbench rollout --json`` writes:
``{"option", "recording", "speed", "guardrails", "steps": [{"name", "modes", "run_modes",
"total", "per_source", "guardrails", ...}], "fallbacks": [{"step", "source", "reason", "run"}],
"end": {...}}``.
"""

from __future__ import annotations

import dataclasses
import hashlib
import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline.recording import Recording, replay_run_sequential
from pipeline.storage import StorageAccount
from workbench.errors import WorkbenchError
from workbench.replay import (
    ProgressFn,
    ReplayOptions,
    SourceModes,
    replay_runs,
    run_limits,
)

OPTIONS = ("big-bang", "phased", "ab")
OPTION_NAMES = {
    "big-bang": "big bang (every source at once)",
    "phased": "phased by source (Reddit, then RSS, then Mastodon)",
    "ab": "A/B by a stable hash of the source name, with guardrails",
}
OPTION_SHORT = {"big-bang": "big bang", "phased": "phased by source", "ab": "A/B with guardrails"}
ACTING_OPTIONS = ("ab",)  # options whose guardrails switch a source back by themselves
AB_SHARES = (0.25, 0.50, 1.00)
# phased: (step name, source types that stream from that week on)
PHASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("week 1: Reddit streams", ("reddit",)),
    ("week 3: Reddit and RSS stream", ("reddit", "rss")),
    ("week 4: every source streams", ("reddit", "rss", "mastodon")),
)


@dataclasses.dataclass(frozen=True)
class Guardrails:
    """When a streaming source goes back to batch (checked per run, per streaming source)."""

    # The design's alert: a source's first item queued later than this after the run's start.
    first_item_queued_s: float = 60.0
    # Share of the source's requests in the run that ended in an error.
    error_rate: float = 0.25

    def __post_init__(self) -> None:
        if not self.first_item_queued_s > 0:
            raise ValueError(f"first_item_queued_s must be > 0, got {self.first_item_queued_s}")
        if not 0 <= self.error_rate < 1:
            raise ValueError(f"error_rate must be within [0, 1), got {self.error_rate}")

    def describe(self) -> list[str]:
        return [
            f"first item queued > {self.first_item_queued_s:g} s after the run's start",
            "any content hash queued twice (in the run, or already queued in an earlier run "
            "of the step)",
            f"error rate > {self.error_rate:.0%} of the source's requests in the run",
        ]


@dataclasses.dataclass(frozen=True)
class Step:
    """One step of an option: its name and the mode it gives each source."""

    name: str
    modes: dict[str, str]


def ab_bucket(source_name: str) -> float:
    """The source's place in [0, 1) for the A/B split: the first 8 hex digits of SHA-256 of
    its name, so the same source lands in the same place on every machine and every run."""
    digest = hashlib.sha256(source_name.encode("utf-8")).hexdigest()
    return int(digest[:8], 16) / 16**8


def plan_steps(
    option: str, sources: Sequence[tuple[str, str]], shares: Sequence[float] = AB_SHARES
) -> list[Step]:
    """The steps of ``option`` for ``sources`` given as (name, type) pairs."""
    if option == "big-bang":
        return [
            Step("all sources batch", {name: "batch" for name, _ in sources}),
            Step("all sources streaming", {name: "streaming" for name, _ in sources}),
        ]
    if option == "phased":
        return [
            Step(name, {n: "streaming" if t in types else "batch" for n, t in sources})
            for name, types in PHASES
        ]
    if option == "ab":
        for share in shares:
            if not 0 < share <= 1:
                raise WorkbenchError(f"A/B share must be within (0, 1], got {share!r}")
        return [
            Step(
                f"A/B {share:.0%} streaming",
                {n: "streaming" if ab_bucket(n) < share else "batch" for n, _ in sources},
            )
            for share in shares
        ]
    raise WorkbenchError(f"unknown rollout option {option!r}; expected one of {OPTIONS}")


async def expected_content_hashes(recording: Recording) -> list[set[str]]:
    """Each run's new content hashes, from the recording alone (sources read one after another,
    no storage): an item is new when none of its keys was seen in the run or in the new items of
    the earlier runs (all within the 24 h lookback). A rollout step must queue exactly these."""
    seen: set[str] = set()
    out: list[set[str]] = []
    for run in recording.runs:
        result = await replay_run_sequential(recording, run.index)
        run_seen: set[str] = set()
        new_keys: set[str] = set()
        hashes: set[str] = set()
        for item in result.all_items():
            keys = item.dedup_keys()
            if not any(k in seen or k in run_seen for k in keys):
                new_keys.update(keys)
                hashes.add(item.processing_key())
            run_seen.update(keys)
        seen |= new_keys
        out.append(hashes)
    return out


def check_guardrails(
    run: Mapping[str, Any], earlier_hashes: Mapping[str, int], guardrails: Guardrails
) -> list[dict[str, Any]]:
    """Every guardrail for every streaming source of one run document (``replay_runs``' run):
    ``{"run", "source", "check", "value", "threshold", "tripped"}``. ``earlier_hashes`` counts
    the content hashes queued by the step's earlier runs."""
    checks: list[dict[str, Any]] = []
    in_run = Counter(m["processing_key"] for m in run["messages"])
    twice_by_source: Counter[str] = Counter()
    for message in run["messages"]:
        h = message["processing_key"]
        if earlier_hashes.get(h, 0) + in_run[h] > 1:
            twice_by_source[message["source_name"]] += 1
    for name, source in run["per_source"].items():
        if source["mode"] != "streaming":
            continue
        collector = source["collector"]
        requests = collector["requests"]
        errors = sum(collector["errors"].values())
        error_rate = errors / requests if requests else (1.0 if errors else 0.0)
        first = source["time_to_first_item_queued_seconds"]
        for check, value, threshold, tripped in (
            (
                "first_item_queued_s",
                first,
                guardrails.first_item_queued_s,
                first is not None and first > guardrails.first_item_queued_s,
            ),
            ("content_hashes_queued_twice", twice_by_source[name], 0, twice_by_source[name] > 0),
            ("error_rate", error_rate, guardrails.error_rate, error_rate > guardrails.error_rate),
        ):
            checks.append(
                {
                    "run": run["run"],
                    "source": name,
                    "check": check,
                    "value": value,
                    "threshold": threshold,
                    "tripped": bool(tripped),
                }
            )
    return checks


def reason(check: Mapping[str, Any]) -> str:
    """A tripped check in words."""
    value, threshold = check["value"], check["threshold"]
    if check["check"] == "first_item_queued_s":
        return f"first item queued at {value:.1f} s > {threshold:g} s (run {check['run']})"
    if check["check"] == "error_rate":
        return f"error rate {value:.0%} > {threshold:.0%} (run {check['run']})"
    return f"{value} content hash(es) queued twice (run {check['run']})"


async def run_rollout(
    recording_dir: Path | str,
    option: str,
    *,
    account: StorageAccount,
    options: ReplayOptions | None = None,
    guardrails: Guardrails | None = None,
    shares: Sequence[float] = AB_SHARES,
    progress: ProgressFn | None = None,
) -> dict[str, Any]:
    """Run every step of ``option`` on the recording; returns the rollout JSON document."""
    options = options or ReplayOptions()
    guardrails = guardrails or Guardrails()
    recording = Recording.open(Path(recording_dir))
    sources = [(s.name, s.type) for s in recording.sources.sources]
    steps = plan_steps(option, sources, shares)
    limits = run_limits(recording)
    expected = await expected_content_hashes(recording)
    expected_all = set().union(*expected)
    pinned: dict[str, str] = {}  # source -> why it went back to batch (A/B)
    fallbacks: list[dict[str, Any]] = []
    step_docs: list[dict[str, Any]] = []
    for number, step in enumerate(steps, 1):
        streaming = sorted(n for n, m in step.modes.items() if m == "streaming")
        if progress:
            progress(
                f"{option}: step {number}/{len(steps)} '{step.name}': {len(streaming)} of "
                f"{len(sources)} sources planned on streaming"
                + (f" ({', '.join(streaming)})" if 0 < len(streaming) < len(sources) else "")
            )
        watch = _StepWatch(option, step, guardrails, pinned, fallbacks, progress)
        doc = await replay_runs(
            recording,
            account=account,
            modes_for_run=watch.modes_for_run,
            label=f"{option}-{number}",
            options=options,
            progress=progress,
            limits=limits,
        )
        watch.judge(doc["runs"][-1])  # its trips apply from the next step's first run
        hashes = [m["processing_key"] for r in doc["runs"] for m in r["messages"]]
        lost = expected_all - set(hashes)
        unexpected = set(hashes) - expected_all
        step_doc = {
            "name": step.name,
            "modes": step.modes,
            "run_modes": [r["modes"] for r in doc["runs"]],
            "total": doc["total"],
            "per_source": per_source_summary(doc["runs"]),
            "guardrails": watch.checks,
            "content_hashes_expected": len(expected_all),
            "content_hashes_lost": len(lost),
            "content_hashes_unexpected": len(unexpected),
            "content_hashes_queued_twice": doc["total"]["content_hashes_queued_twice"],
            # The runs without their message lists (the counts and times above come from them).
            "runs": [{k: v for k, v in r.items() if k != "messages"} for r in doc["runs"]],
            "end": doc["end"],
        }
        step_docs.append(step_doc)
        if progress:
            total = doc["total"]
            progress(
                f"{option}: step {number} done: {total['items_queued']} items queued, first "
                f"item mean {_fmt(total['time_to_first_item_queued_seconds'])} s (worst "
                f"{_fmt(total['time_to_first_item_queued_seconds_max'])} s), "
                f"{len(lost)} lost, {step_doc['content_hashes_queued_twice']} queued twice"
            )
    final = {
        n: "batch" if n in pinned else m for n, m in (steps[-1].modes.items() if steps else ())
    }
    return {
        "option": option,
        "recording": str(recording_dir),
        "speed": options.speed,
        "processors": options.processors,
        "rate_limit_items_per_s": options.collector.rate_limit_items_per_s,
        "guardrails": {
            **dataclasses.asdict(guardrails),
            "rules": guardrails.describe(),
            "acted_on": option in ACTING_OPTIONS,
        },
        "steps": step_docs,
        "fallbacks": fallbacks,
        "end": {
            "modes": final,
            "sources_streaming": sum(1 for m in final.values() if m == "streaming"),
            "sources": len(final),
            "steps": len(step_docs),
            "runs": sum(len(s["runs"]) for s in step_docs),
            "content_hashes_lost": sum(s["content_hashes_lost"] for s in step_docs),
            "content_hashes_queued_twice": sum(s["content_hashes_queued_twice"] for s in step_docs),
            "content_hashes_unexpected": sum(s["content_hashes_unexpected"] for s in step_docs),
            "guardrails_tripped": sum(
                1 for s in step_docs for c in s["guardrails"] if c["tripped"]
            ),
            "fallbacks": len(fallbacks),
        },
    }


class _StepWatch:
    """One step's guardrail checks; switches a tripped source back to batch (A/B only) in the
    rollout-wide ``pinned`` map, so it stays on batch in the later steps too."""

    def __init__(
        self,
        option: str,
        step: Step,
        guardrails: Guardrails,
        pinned: dict[str, str],
        fallbacks: list[dict[str, Any]],
        progress: ProgressFn | None,
    ) -> None:
        self.option, self.step, self.guardrails = option, step, guardrails
        self.pinned, self.fallbacks, self.progress = pinned, fallbacks, progress
        self.checks: list[dict[str, Any]] = []
        self.queued: Counter[str] = Counter()  # content hashes queued by the step's runs so far

    def modes_for_run(
        self, recording: Recording, run_index: int, done: Sequence[dict[str, Any]]
    ) -> SourceModes:
        if done:
            self.judge(done[-1])
        return {n: "batch" if n in self.pinned else m for n, m in self.step.modes.items()}

    def judge(self, run_doc: Mapping[str, Any]) -> None:
        found = check_guardrails(run_doc, self.queued, self.guardrails)
        self.queued.update(m["processing_key"] for m in run_doc["messages"])
        acts = self.option in ACTING_OPTIONS
        for check in found:
            check["action"] = "none"
            if not check["tripped"]:
                continue
            name = check["source"]
            if not acts:
                check["action"] = "none: this option has no automatic fallback"
            elif name in self.pinned:
                check["action"] = "already switched to batch"
            else:
                self.pinned[name] = reason(check)
                check["action"] = "switched to batch for its next run"
                self.fallbacks.append(
                    {
                        "step": self.step.name,
                        "source": name,
                        "reason": reason(check),
                        "run": run_doc["run"],
                    }  # fmt: skip
                )
                if self.progress:
                    self.progress(f"{self.option}: guardrail: {name}: {reason(check)}; "
                                  "back to batch from its next run")  # fmt: skip
        self.checks.extend(found)


def per_source_summary(runs: Sequence[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per source over a step's runs: its modes, counts, first item and throughput (mean and
    worst over the runs where it queued something), requests and errors."""
    out: dict[str, dict[str, Any]] = {}
    names = list(runs[0]["per_source"]) if runs else []
    for name in names:
        rows = [r["per_source"][name] for r in runs]
        firsts = [r["time_to_first_item_queued_seconds"] for r in rows]
        firsts = [f for f in firsts if f is not None]
        throughputs = [r["throughput_items_per_second"] for r in rows if r["items_queued"]]
        requests = sum(r["collector"]["requests"] for r in rows)
        errors = sum(sum(r["collector"]["errors"].values()) for r in rows)
        out[name] = {
            "type": rows[0]["type"],
            "modes": [r["mode"] for r in rows],
            "items_collected": sum(r["items_collected"] for r in rows),
            "items_queued": sum(r["items_queued"] for r in rows),
            "duplicates_skipped": sum(r["duplicates_skipped"] for r in rows),
            "time_to_first_item_queued_seconds": statistics.fmean(firsts) if firsts else None,
            "time_to_first_item_queued_seconds_max": max(firsts, default=None),
            "throughput_items_per_second": (statistics.fmean(throughputs) if throughputs else None),
            "requests": requests,
            "errors": errors,
            "error_rate": errors / requests if requests else 0.0,
        }
    return out


def step_table(doc: Mapping[str, Any]) -> str:
    """What ``workbench rollout`` prints: one row per step, then the fallbacks."""
    lines = [
        "| Step | Streaming sources | First item mean (s) | First item worst (s) "
        "| Last item mean (s) | Queued | Lost | Queued twice | Peak 10 s (items/s) "
        "| Guardrails tripped |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for step in doc["steps"]:
        total = step["total"]
        streaming = sum(1 for m in step["modes"].values() if m == "streaming")
        tripped = sum(1 for c in step["guardrails"] if c["tripped"])
        lines.append(
            f"| {step['name']} | {streaming}/{len(step['modes'])} "
            f"| {_fmt(total['time_to_first_item_queued_seconds'])} "
            f"| {_fmt(total['time_to_first_item_queued_seconds_max'])} "
            f"| {_fmt(total['time_to_last_item_queued_seconds'])} | {total['items_queued']} "
            f"| {step['content_hashes_lost']} | {step['content_hashes_queued_twice']} "
            f"| {_fmt(total['peak_enqueue_rate_10s'])} | {tripped} |"
        )
    if doc["fallbacks"]:
        lines.append("")
        for fb in doc["fallbacks"]:
            lines.append(
                f"fallback in '{fb['step']}': {fb['source']} back to batch: {fb['reason']}"
            )
    return "\n".join(lines)


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"
