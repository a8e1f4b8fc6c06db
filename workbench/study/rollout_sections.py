"""The report's sections on the rollout study: the rollout options run step by step, the send
limit, what breaks (the original processor's hazard, evenness), the scaler tuning, and the
recommendation at the top of the summary. Every number is a ``Num`` keyed by its place in
``metrics.json``: ``rollout/{rec}/{option}/...``, ``rate_limit/{rec}/{rate}/...``,
``hazard/{rec}/...``, ``tuning/...``, ``recommendation/...``.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from workbench import plots
from workbench.replay import MODES
from workbench.report import (
    Block,
    Bullets,
    Figure,
    Heading,
    Inline,
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
    RECOMMENDATION_FILE,
    ROLLOUT_FILE,
    TUNING_FILE,
)
from workbench.study.tables import CONFIDENCE_PERCENT, Criterion, verdict
from workbench.tune import TUNED

if TYPE_CHECKING:
    from workbench.study.sections import Context


def _ci(key: Key, stats: dict[str, Any] | None, digits: int = 2) -> list[Inline]:
    """``mean (low to high)`` of a simulated metric."""
    stats = stats or {}
    return [
        Num((*key, "mean"), stats.get("mean"), digits),
        " (",
        Num((*key, "ci_low"), stats.get("ci_low"), digits),
        " to ",
        Num((*key, "ci_high"), stats.get("ci_high"), digits),
        ")",
    ]


_NUMBER = re.compile(r"(?<![\w.])\d+(?:\.\d+)?(?![\w])")


def numbered(text: str, key: Key) -> list[Inline]:
    """``text`` with each number outside backticks as a ``Num`` under ``key`` (the report
    keeps every number it shows in ``metrics.json``): step names, rules, reasons."""
    out: list[Inline] = []
    count = 0
    for k, chunk in enumerate(re.split(r"(`[^`]*`)", text)):
        if k % 2:  # a code span
            out.append(chunk)
            continue
        last = 0
        for match in _NUMBER.finditer(chunk):
            out.append(chunk[last : match.start()])
            raw = match.group()
            value: int | float = float(raw) if "." in raw else int(raw)
            digits = len(raw.split(".", 1)[1]) if "." in raw else 2
            out.append(Num((*key, f"n{count}"), value, digits))
            count += 1
            last = match.end()
        out.append(chunk[last:])
    return [p for p in out if p != ""]


def _numbered_text(text: Text, key: Key) -> Text:
    parts_in = [text] if isinstance(text, str | Num) else list(text)
    out: list[Inline] = []
    for i, part in enumerate(parts_in):
        if isinstance(part, str):
            out.extend(numbered(part, (*key, i)))
        elif isinstance(part, Num):
            out.append(part)
        else:
            out.extend(_numbered_text(part, (*key, i)))  # type: ignore[arg-type]
    return out


def number_blocks(blocks: list[Block], key: Key) -> list[Block]:
    """``blocks`` with the numbers of their plain text as ``Num``s under ``key`` (headers and
    headings hold none)."""
    for b, block in enumerate(blocks):
        k: Key = (*key, b)
        if isinstance(block, Paragraph):
            block.text = _numbered_text(block.text, k)
        elif isinstance(block, Bullets):
            block.items = [_numbered_text(t, (*k, i)) for i, t in enumerate(block.items)]
        elif isinstance(block, Table):
            block.caption = _numbered_text(block.caption, (*k, "caption"))
            block.rows = [
                [_numbered_text(c, (*k, r, j)) for j, c in enumerate(row)]
                for r, row in enumerate(block.rows)
            ]
        elif isinstance(block, Figure):
            block.title = _numbered_text(block.title, (*k, "title"))
            block.note = _numbered_text(block.note, (*k, "note"))
    return blocks


def _has(ctx: Context, template: str, rec: str = "") -> bool:
    return ctx.results.exists(template, rec)


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
        if not _has(ctx, ROLLOUT_FILE, rec):
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


def _rate_key(row: dict[str, Any]) -> str:
    """A sweep row's place in ``metrics.json`` (no slash: keys are paths)."""
    rate = row["rate_limit_items_per_s"]
    return "none" if rate is None else f"{rate:g}"


def _rate_table(rec: str, sweep: dict[str, Any], chosen: float | None) -> Table:
    rows: list[list[Text]] = []
    for row in [sweep["batch"], *sweep["rows"]]:
        label = "batch" if row["mode"] == "batch" else f"streaming, limit {row['rate']}"
        if row["mode"] == "streaming" and row["rate_limit_items_per_s"] == chosen:
            label += " (recommended)"
        key: Key = ("rate_limit", rec, "batch" if row["mode"] == "batch" else _rate_key(row))
        cells: list[Text] = [
            label,
            Num((*key, "peak_enqueue_rate_10s"), row["peak_enqueue_rate_10s"]),
            Num((*key, "last_item_queued_s"), row["time_to_last_item_queued_seconds"]),
        ]
        for metric, _ in RATE_SIM:
            digits = 1
            cells.append(_ci((*key, metric), row["simulated"].get(metric), digits))
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
    rate = _rate(ctx)
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
    sweeps = {rec: ctx.load(RATE_FILE, rec) for rec in ctx.recordings if _has(ctx, RATE_FILE, rec)}
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


def _rate(ctx: Context) -> dict[str, Any]:
    if _has(ctx, RECOMMENDATION_FILE):
        rec = ctx.load(RECOMMENDATION_FILE)["rate_limit"]
        return {
            "rule": rec["rule"],
            "rate": rec["choice"],
            "rate_limit_items_per_s": rec["items_per_s"],
            "found": rec["found"],
            "peak_margin": rec.get("peak_margin"),
        }
    from workbench.ratelimit import recommend_rate

    return recommend_rate([ctx.load(RATE_FILE, r) for r in ctx.recordings])


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
        if not _has(ctx, HAZARD_FILE, rec):
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
                            *(_ci((*key, m), metrics[m], 1) for m in labels),
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
        if not _has(ctx, RATE_FILE, rec):
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
                    _ci(
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


# -- tuning ----------------------------------------------------------------------------------
TUNING_FRONT_ROWS = 12  # the cheapest settings of the front shown (all in tuning.json)
TUNING_HEADER = "Setting (queueLength / activation / polling s / cooldown s / max replicas)"
TUNING_METRICS = (
    ("latency_p95_s", "Latency p95 (s)", 1),
    ("replica_seconds", "Replica-seconds", 1),
    ("time_to_first_item_processed_s", "First item processed (s)", 1),
)


def tuning_section(ctx: Context) -> Section:
    doc = ctx.load(TUNING_FILE)
    front = [r for r in doc["rows"] if r.get("pareto")]
    front.sort(key=lambda r: r["replica_seconds"])
    shown = [r for r in doc["rows"] if r.get("shipped") or r.get("recommended")]
    shown += [r for r in front if r not in shown][:TUNING_FRONT_ROWS]
    rows: list[list[Text]] = []
    for r in shown:
        role = " and ".join(
            x
            for x, flag in (
                ("shipped", r.get("shipped")),
                ("recommended", r.get("recommended")),
                ("Pareto front", r.get("pareto")),
            )
            if flag  # fmt: skip
        )
        setting = " / ".join(str(r[k]) for k in TUNED)
        key: Key = ("tuning", "-".join(str(r[k]) for k in TUNED))
        cells: list[Text] = [role, setting]
        for metric, _, digits in TUNING_METRICS:
            cells.append(
                [
                    Num((*key, metric, "mean"), r[metric], digits),
                    " (",
                    Num((*key, metric, "ci_low"), r.get(f"{metric}_ci_low"), digits),
                    " to ",
                    Num((*key, metric, "ci_high"), r.get(f"{metric}_ci_high"), digits),
                    ")",
                ]  # fmt: skip
            )
        rows.append(cells)
    blocks: list[Block] = [
        Paragraph(
            [
                f"`workbench tune` on {doc['arrivals']}: every combination of "
                + ", ".join(f"`{k}`" for k in TUNED)
                + " around the shipped ScaledObject (",
                Num(("tuning", "settings"), len(doc["rows"])),
                " settings), ",
                Num(("tuning", "seeds"), doc["seeds"]),
                " seeds each with random loop phases. ",
                doc["rule"],
                " The shipped setting "
                + doc["describe"].splitlines()[0].removeprefix("shipped ")
                + ".",
            ]
        ),
        Table(
            [
                "Role",
                TUNING_HEADER,
                *(f"{label}, mean (interval)" for _, label, _ in TUNING_METRICS),
            ],
            rows,
            source="`tuning.json`: `rows[i]` (means over seeds; `_ci_low`, `_ci_high`)",
            caption=[
                "The shipped and the recommended setting, then the ",
                Num(("tuning", "front_shown"), min(len(front), TUNING_FRONT_ROWS)),
                " cheapest of the ",
                Num(("tuning", "pareto_front"), len(front)),
                " settings on the Pareto front of p95 latency against replica-seconds",
            ],  # fmt: skip
            numeric=[False, False, True, True, True],
        ),
    ]
    return Section("tuning", "Tuning the scaler", number_blocks(blocks, ("text", "tuning")))


# -- the recommendation and the criteria it settles ------------------------------------------
def recommendation_blocks(ctx: Context) -> list[Block]:
    """The decision at the top of the summary: option, send limit, scaler, each with its rule
    and the numbers it rests on."""
    if not _has(ctx, RECOMMENDATION_FILE):
        return []
    doc = ctx.load(RECOMMENDATION_FILE)
    option, rate, scaler = doc["option"], doc["rate_limit"], doc["scaler"]
    scores = option["scores"]
    option_rows: list[list[Text]] = []
    for name, s in scores.items():
        key: Key = ("recommendation", "option", name)
        option_rows.append(
            [
                OPTION_NAMES[name] + (" (recommended)" if name == option["choice"] else ""),
                [
                    Num((*key, "content_hashes_lost"), s["content_hashes_lost"]),
                    " / ",
                    Num((*key, "content_hashes_queued_twice"), s["content_hashes_queued_twice"]),
                ],
                s["containment_evidence"],
                Num((*key, "streaming_share"), s["streaming_share"]),
            ]  # fmt: skip
        )
    rec_nums = scaler.get("recommended") or {}
    shipped_nums = scaler.get("shipped_numbers") or {}
    scaler_cells: list[Inline] = []
    for metric, label, digits in TUNING_METRICS:
        scaler_cells += [
            f"{label}: ",
            Num(("recommendation", "scaler", "recommended", metric), rec_nums.get(metric), digits),
            " against ",
            Num(("recommendation", "scaler", "shipped", metric), shipped_nums.get(metric), digits),
            " shipped; ",
        ]
    setting = ", ".join(f"`{k}` {v}" for k, v in (scaler.get("choice") or {}).items())
    chosen = next(
        (c for c in rate["candidates"] if c["rate_limit_items_per_s"] == rate["items_per_s"]), None
    )
    rate_numbers: list[Inline] = []
    for rec, j in (chosen or {}).get("by_recording", {}).items():
        name = rec.rsplit("/", 1)[-1]
        key = ("recommendation", "rate_limit", name)
        rate_numbers += [
            f"{name}: peak ",
            Num((*key, "peak_enqueue_rate_10s"), j["peak_enqueue_rate_10s"]),
            " items/s against batch's ",
            Num((*key, "batch_peak_enqueue_rate_10s"), j["batch_peak_enqueue_rate_10s"]),
            ", p95 ",
            Num((*key, "latency_p95_s"), j["latency_p95_s"], 1),
            " s against ",
            Num((*key, "latency_p95_s_unlimited"), j["latency_p95_s_unlimited"], 1),
            " s without a limit; ",
        ]
    first_processed: list[Inline] = []
    for rec in ctx.recordings:
        sim = ctx.simulation(rec)
        if not sim:
            continue
        metric = "run_first_item_processed_s"
        stats = {m: sim["modes"][m].get(metric) for m in MODES}
        first_processed += [
            f"{rec}: streaming ",
            *_ci(("simulation", rec, "streaming", metric), stats["streaming"], 1),
            " s, batch ",
            *_ci(("simulation", rec, "batch", metric), stats["batch"], 1),
            " s; ",
        ]
    blocks: list[Block] = [
        Paragraph(f"**{doc['headline']}**"),
        Paragraph(
            [
                "Simulated time to first item processed from each run's start, mean over seeds "
                "(95 % interval) with random KEDA/HPA loop phases: ",
                *first_processed,
            ]  # fmt: skip
        ),
        Bullets(
            [
                [f"**Option: {OPTION_NAMES.get(option['choice'], 'none')}.** ", option["rule"]],
                [f"**Send limit: {rate['choice']}.** ", rate["rule"], " ", *rate_numbers],
                [
                    f"**Scaler: {setting or 'the shipped setting'}** (tuned on {scaler['arrivals']}). ",
                    scaler["rule"] or "",
                    " ",
                    *scaler_cells,
                    *(f"Caveat: {c}. " for c in scaler.get("caveats", [])),
                ],  # fmt: skip
            ]
        ),
        Table(
            [
                "Option",
                "Lost / queued twice",
                "Containing a misbehaving source",
                "Source-runs streaming",
            ],
            option_rows,
            source="`recommendation.json`: `option.scores` (from `rollout-<rec>.json` and "
            "`rollout-fault-<rec>.json`)",
            numeric=[False, True, False, True],
        ),
    ]
    return number_blocks(blocks, ("text", "summary", "recommendation"))


def study_criteria(ctx: Context, rec: str) -> list[Criterion]:
    """The success criteria the rollout study settles for ``rec``; they replace the replay's
    own verdicts of the same id (smoother arrivals is judged at the recommended send limit)."""
    out: list[Criterion] = []
    if _has(ctx, RATE_FILE, rec):
        sweep = ctx.load(RATE_FILE, rec)
        rate = _rate(ctx)
        chosen = rate["rate_limit_items_per_s"]
        row = next(r for r in sweep["rows"] if r["rate_limit_items_per_s"] == chosen)
        free = sweep["rows"][0]
        key: Key = ("rate_limit", rec)
        batch_peak = Num(
            (*key, "batch", "peak_enqueue_rate_10s"), sweep["batch"]["peak_enqueue_rate_10s"]
        )
        at_rate = Num((*key, _rate_key(row), "peak_enqueue_rate_10s"), row["peak_enqueue_rate_10s"])
        unlimited = Num(
            (*key, _rate_key(free), "peak_enqueue_rate_10s"), free["peak_enqueue_rate_10s"]
        )
        out.append(
            Criterion(
                "smoother_arrivals",
                "Smoother arrivals: lower 10 s peak enqueue rate than batch, at the recommended "
                "send limit",
                verdict(row["peak_enqueue_rate_10s"] < sweep["batch"]["peak_enqueue_rate_10s"]),
                [f"at {row['rate']}: streaming ", at_rate, " items/s, batch ", batch_peak,
                 " items/s; without a limit streaming ", unlimited, " items/s"],
            )
        )  # fmt: skip
        limit = chosen
        honoured = limit is None or row["peak_enqueue_rate_10s"] <= limit + 0.1
        out.append(
            Criterion(
                "rate_limits",
                "Configurable rate limits keep the queue from flooding",
                verdict(bool(rate.get("found", True)) and honoured),
                [f"every limit honoured in the replay; at {row['rate']} the peak is ", at_rate,
                 " items/s (one extra item in a 10 s window allowed)"],
            )
        )  # fmt: skip
        depth_b = sweep["batch"]["simulated"]["peak_queue_depth"]
        depth_s = row["simulated"]["peak_queue_depth"]
        out.append(
            Criterion(
                "smoother_scaling",
                "Smoother KEDA scaling: a lower simulated peak queue depth than batch (no spike)",
                verdict(depth_s["mean"] < depth_b["mean"]),
                ["peak queue depth: batch ", *_ci((*key, "batch", "peak_queue_depth"), depth_b, 1),
                 f", streaming at {row['rate']} ", *_ci((*key, _rate_key(row), "peak_queue_depth"), depth_s, 1)],
            )
        )  # fmt: skip
        cv_b, cv_s = (
            sweep["batch"].get("items_per_processor_cv"),
            free.get("items_per_processor_cv"),
        )
        sim_b = sweep["batch"]["simulated"]["items_per_replica_cv"]["mean"]
        sim_s = free["simulated"]["items_per_replica_cv"]["mean"]
        even = None
        if None not in (cv_b, cv_s, sim_b, sim_s):
            even = cv_s <= cv_b + 0.05 and sim_s <= sim_b + 0.05
        out.append(
            Criterion(
                "even_work",
                "Even work across processor instances: streaming's items-per-instance CV not "
                "above batch's (+0.05)",
                verdict(even),
                ["replayed CV batch ", Num(("evenness", rec, "batch", "replayed_items_per_processor_cv"), cv_b),
                 ", streaming ", Num(("evenness", rec, "streaming", "replayed_items_per_processor_cv"), cv_s),
                 "; simulated batch ", Num(("evenness", rec, "batch", "simulated_items_per_replica_cv", "mean"), sim_b),
                 ", streaming ", Num(("evenness", rec, "streaming", "simulated_items_per_replica_cv", "mean"), sim_s)],
            )
        )  # fmt: skip
    if _has(ctx, ROLLOUT_FILE, rec):
        options = ctx.load(ROLLOUT_FILE, rec)["options"]
        lost = sum(d["end"]["content_hashes_lost"] for d in options.values())
        twice = sum(d["end"]["content_hashes_queued_twice"] for d in options.values())
        steps = sum(len(d["steps"]) for d in options.values())
        fallbacks = sum(len(d["fallbacks"]) for d in options.values())
        out.append(
            Criterion(
                "batch_fallback",
                "Batch fallback works (sources switched between modes lose nothing)",
                verdict(lost == twice == 0),
                [Num(("rollout", rec, "steps"), steps), " rollout steps, ",
                 Num(("rollout", rec, "fallbacks"), fallbacks),
                 " A/B fallbacks: content hashes lost ", Num(("rollout", rec, "content_hashes_lost"), lost),
                 ", queued twice ", Num(("rollout", rec, "content_hashes_queued_twice"), twice)],
            )
        )  # fmt: skip
    return [
        dataclasses.replace(
            c,
            name=_numbered_text(c.name, ("text", "criteria", rec, c.id, "name")),
            evidence=_numbered_text(c.evidence, ("text", "criteria", rec, c.id, "evidence")),
        )
        for c in out
    ]


def merge_criteria(base: Sequence[Criterion], extra: Sequence[Criterion]) -> list[Criterion]:
    """``base`` with each criterion of ``extra`` in place of the one with its id."""
    by_id = {c.id: c for c in extra}
    return [by_id.get(c.id, c) for c in base]
