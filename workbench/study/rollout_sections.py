"""The report's sections on the rollout study: the rollout options run step by step, the send
limit, and what breaks (the original processor's hazard, evenness). The tuning and the
recommendation are in ``decision_sections``. Every number is a ``Num`` keyed by its place in
``metrics.json``: ``rollout/{rec}/{option}/...``, ``rate_limit/{rec}/{rate}/...``,
``hazard/{rec}/...``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from workbench import plots
from workbench.report import (
    Block,
    Bullets,
    Figure,
    Heading,
    Key,
    Num,
    Paragraph,
    Section,
    Table,
    Text,
)
from workbench.rollout import OPTION_NAMES
from workbench.study._results import (
    FAULT_FILE,
    HAZARD_FILE,
    RATE_FILE,
    ROLLOUT_FILE,
)
from workbench.study.numbers import (
    chosen_rate,
    ci,
    has_result,
    number_blocks,
    rate_key,
)
from workbench.study.tables import CONFIDENCE_PERCENT

if TYPE_CHECKING:
    from workbench.study.sections import Context


# -- rollout ---------------------------------------------------------------------------------
def _step_table(rec: str, option: str, doc: dict[str, Any]) -> Table:
    rows: list[list[Text]] = []
    for i, step in enumerate(doc["steps"]):
        key: Key = ("rollout", rec, option, i)
        total = step["total"]
        streaming = sum(1 for m in step["modes"].values() if m == "streaming")
        fell = [f["source"] for f in doc["fallbacks"] if f["step"] == step["name"]]
        rows.append(
            [
                step["name"],
                [Num((*key, "streaming_sources"), streaming), f" of {len(step['modes'])}"],
                Num((*key, "first_item_queued_s"), total["time_to_first_item_queued_seconds"]),
                Num((*key, "first_item_queued_s_max"), total["time_to_first_item_queued_seconds_max"]),
                Num((*key, "last_item_queued_s"), total["time_to_last_item_queued_seconds"]),
                Num((*key, "peak_enqueue_rate_10s"), total["peak_enqueue_rate_10s"]),
                Num((*key, "items_queued"), total["items_queued"]),
                Num((*key, "content_hashes_lost"), step["content_hashes_lost"]),
                Num((*key, "content_hashes_queued_twice"), step["content_hashes_queued_twice"]),
                Num((*key, "guardrails_tripped"), sum(1 for c in step["guardrails"] if c["tripped"])),
                ", ".join(fell) or "-",
            ]
        )  # fmt: skip
    return Table(
        [
            "Step",
            "Streaming sources",
            "First item (s)",
            "Worst run (s)",
            "Last item (s)",
            "Peak enqueue rate (items/s)",
            "Queued",
            "Lost",
            "Queued twice",
            "Guardrails tripped",
            "Switched back to batch",
        ],  # fmt: skip
        rows,
        source=f"`{ROLLOUT_FILE.format(name=rec)}`: `options.{option}.steps[i]`",
        caption=OPTION_NAMES[option],
        numeric=[False, *([True] * 9), False],
    )


def _trips(doc: dict[str, Any]) -> list[Text]:
    items: list[Text] = []
    for f in doc["fallbacks"]:
        items.append(
            [f"{f['step']}: `{f['source']}` back to batch from its next run: {f['reason']}"]
        )
    acting = doc["guardrails"]["acted_on"]
    if not acting:
        sources = sorted(
            {c["source"] for s in doc["steps"] for c in s["guardrails"] if c["tripped"]}
        )
        if sources:
            items.append(
                "guardrails tripped (reported, no automatic fallback in this option): "
                + ", ".join(f"`{s}`" for s in sources)
            )
    return items


def rollout_section(ctx: Context) -> Section:
    blocks: list[Block] = [
        Paragraph(
            "Each option run as it would happen: every step replays the recording's runs (one "
            "collection day) on fresh storage, each source in the mode the step gives it "
            "(sources.yaml's per-source `mode`); within a step one queue and one history index "
            "serve both modes. Big bang: all batch, then all streaming. Phased: week 1 the Reddit "
            "sources stream, week 3 the RSS sources too, week 4 all. A/B: a stable hash of the "
            "source name (the first 32 bits of its SHA-256) puts 25, 50, then 100 % of the "
            "sources on streaming; after every run the guardrails (a streaming source's first "
            "item queued later than 60 s after the run's start, a content hash queued twice, "
            "more than 25 % of its requests failing) switch that source back to batch from its "
            "next run on. Lost and queued twice compare each step with the content hashes the "
            "recording holds (computed from the recording alone). The steps run without a send limit."
        )
    ]
    for rec in ctx.recordings:
        if not has_result(ctx, ROLLOUT_FILE, rec):
            continue
        options = ctx.load(ROLLOUT_FILE, rec)["options"]
        blocks.append(Heading(rec))
        for option, doc in options.items():
            blocks.append(_step_table(rec, option, doc))
            trips = _trips(doc)
            if trips:
                blocks.append(Bullets(trips))
    for name in _fault_names(ctx):
        doc = ctx.load(FAULT_FILE, name)
        blocks += [
            Heading(f"The guardrail's fault case: {name}"),
            Paragraph(
                f"`{doc['recording']}`: one feed stalls 70-80 s in every run. A/B as above; the "
                "stalled source must go back to batch and every other source keep its planned "
                "mode and its items."
            ),
            _step_table(name, "ab", doc),
            Bullets(_trips(doc) or ["no fallback happened"]),
        ]
    return Section(
        "rollout",
        "How to roll out: the three options, run against Azure Storage",
        number_blocks(blocks, ("text", "rollout")),
    )


def _fault_names(ctx: Context) -> list[str]:
    out = ctx.results.out
    prefix, _, suffix = FAULT_FILE.partition("{name}")
    return sorted(p.name[len(prefix) : -len(suffix)] for p in out.glob(f"{prefix}*{suffix}"))


# -- send limit ------------------------------------------------------------------------------
RATE_SIM = (
    ("run_first_item_processed_s", "Time to first item processed (s)"),
    ("latency_p95_s", "Latency p95 (s)"),
    ("peak_queue_depth", "Peak queue depth"),
    ("replica_seconds", "Replica-seconds"),
)


def _rate_table(rec: str, sweep: dict[str, Any], chosen: float | None) -> Table:
    rows: list[list[Text]] = []
    for row in [sweep["batch"], *sweep["rows"]]:
        label = "batch" if row["mode"] == "batch" else f"streaming, limit {row['rate']}"
        if row["mode"] == "streaming" and row["rate_limit_items_per_s"] == chosen:
            label += " (recommended)"
        key: Key = ("rate_limit", rec, "batch" if row["mode"] == "batch" else rate_key(row))
        cells: list[Text] = [
            label,
            Num((*key, "peak_enqueue_rate_10s"), row["peak_enqueue_rate_10s"]),
            Num((*key, "last_item_queued_s"), row["time_to_last_item_queued_seconds"]),
        ]
        for metric, _ in RATE_SIM:
            digits = 1
            cells.append(ci((*key, metric), row["simulated"].get(metric), digits))
        rows.append(cells)
    return Table(
        [
            "Mode",
            "Peak enqueue rate (items/s)",
            "Last item queued (s)",
            *(f"{label}, simulated" for _, label in RATE_SIM),
        ],  # fmt: skip
        rows,
        source=f"`{RATE_FILE.format(name=rec)}`: `batch`, `rows[i]` (replayed means of runs; "
        "`simulated.<metric>`)",
        caption=["Simulated: mean over seeds (", CONFIDENCE_PERCENT, " % interval)"],
    )


def rate_limit_section(ctx: Context) -> Section:
    rate = chosen_rate(ctx)
    blocks: list[Block] = [
        Paragraph(
            [
                "The streaming collector's send limit (items/s; `rate_limit_items_per_s`) swept "
                "on every recording: each rate replayed with every source streaming against "
                "Azure Storage (peak enqueue rate over 10 s and the last item queued, means of "
                "the runs), and its enqueue times through the KEDA model with random loop "
                "phases. Batch is the reference. ",
                rate["rule"],
                " **Recommended: ",
                rate["rate"],
                "**.",
            ]
        )
    ]
    sweeps = {
        rec: ctx.load(RATE_FILE, rec) for rec in ctx.recordings if has_result(ctx, RATE_FILE, rec)
    }
    for rec, sweep in sweeps.items():
        blocks += [Heading(rec), _rate_table(rec, sweep, rate["rate_limit_items_per_s"])]
    if sweeps:
        title = (
            f"A send limit of {rate['rate']} brings the 10 s peak at least "
            f"{rate.get('peak_margin') or 0:.0%} below batch's on every recording"
            if rate.get("found", True)
            else "No send limit meets the rule on every recording"
        )
        blocks.append(
            Figure(
                name="rate-limit-sweep",
                title=title,
                png=plots.png(
                    plots.rate_limit_sweep(sweeps, rate["rate_limit_items_per_s"], title)
                ),
                source="`rate-limit-<rec>.json`: `rows[i].peak_enqueue_rate_10s`, "
                "`rows[i].simulated.latency_p95_s`",
                note="Left: replayed peak over 10 s (dashed: batch). Right: simulated p95 with "
                "its 95 % interval. Grey band: the recommended limit. The p95 counts from the "
                "queue send: items a limit holds back wait in the collector, not on the queue.",
            )
        )
    return Section(
        "rate_limit", "The streaming send limit", number_blocks(blocks, ("text", "rate_limit"))
    )


# -- what breaks -----------------------------------------------------------------------------
def hazard_section(ctx: Context) -> Section:
    blocks: list[Block] = [
        Paragraph(
            "The processor the design came from receives 10 messages, handles them one by one "
            "and never renews their 60 s visibility: when the batch's work outlasts 60 s, the "
            "last messages reappear and another pod handles them again (redeliveries, items "
            "processed twice). Simulated on each recording's batch arrivals and its streaming "
            "arrivals at the recommended send limit, with ~5-7 s per item (the small model) and "
            "30-45 s (the documented range), next to the two fixes. Means over seeds "
            "(95 % interval)."
        )
    ]
    labels = {
        "redeliveries": "Redeliveries",
        "duplicate_processing": "Processed twice",
        "latency_p95_s": "Latency p95 (s)",
        "replica_seconds": "Replica-seconds",
    }
    for rec in ctx.recordings:
        if not has_result(ctx, HAZARD_FILE, rec):
            continue
        doc = ctx.load(HAZARD_FILE, rec)
        rows: list[list[Text]] = []
        for mode, services in doc["modes"].items():
            for service, hazard in services.items():
                for variant, metrics in hazard["variants"].items():
                    key: Key = ("hazard", rec, mode, service, variant)
                    rows.append(
                        [
                            mode,
                            f"`{service}`",
                            variant,
                            *(ci((*key, m), metrics[m], 1) for m in labels),
                        ]  # fmt: skip
                    )
        blocks += [
            Heading(rec),
            Table(
                ["Arrivals", "Service (s)", "Processor", *labels.values()],
                rows,
                source=f"`{HAZARD_FILE.format(name=rec)}`: `modes.<mode>.<service>.variants`",
                numeric=[False, False, False, *([True] * len(labels))],
            ),
        ]
    evenness: list[list[Text]] = []
    for rec in ctx.recordings:
        if not has_result(ctx, RATE_FILE, rec):
            continue
        sweep = ctx.load(RATE_FILE, rec)
        for row in (sweep["batch"], sweep["rows"][0]):
            mode = row["mode"]
            key = ("evenness", rec, mode)
            evenness.append(
                [
                    rec,
                    mode,
                    Num((*key, "processors"), row.get("processors")),
                    Num(
                        (*key, "replayed_items_per_processor_cv"), row.get("items_per_processor_cv")
                    ),
                    ci(
                        (*key, "simulated_items_per_replica_cv"),
                        row["simulated"].get("items_per_replica_cv"),
                    ),
                ]  # fmt: skip
            )
    if evenness:
        blocks += [
            Heading("Even work across processor instances"),
            Paragraph(
                "Items each processor instance handled, as a coefficient of variation (0 = "
                "perfectly even): measured over the replay's workers (receiving only what they "
                "can start) and simulated over the pods KEDA started (pods that start later "
                "get less, whatever the mode)."
            ),
            Table(
                [
                    "Recording",
                    "Mode",
                    "Replay workers",
                    "Replayed CV",
                    "Simulated CV (interval)",
                ],
                evenness,
                source="`rate-limit-<rec>.json`: `batch` and `rows[0]` (no limit): "
                "`items_per_processor_cv`, `simulated.items_per_replica_cv`",
                numeric=[False, False, True, True, True],
            ),
        ]
    return Section(
        "hazards",
        "What breaks: the original processor's hazard, and evenness",
        number_blocks(blocks, ("text", "hazards")),
    )
