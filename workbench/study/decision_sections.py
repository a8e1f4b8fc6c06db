"""The report's decision sections: the scaler tuning (Pareto front), the recommendation at the
top of the summary, and the success criteria the rollout study judges. Every number is a
``Num`` keyed by its place in ``metrics.json`` (``tuning/...``, ``recommendation/...``)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import TYPE_CHECKING

from workbench.replay import MODES
from workbench.report import (
    Block,
    Bullets,
    Inline,
    Key,
    Num,
    Paragraph,
    Section,
    Table,
    Text,
)
from workbench.rollout import OPTION_NAMES
from workbench.study import tables
from workbench.study._results import (
    RATE_FILE,
    RECOMMENDATION_FILE,
    ROLLOUT_FILE,
    TUNING_FILE,
)
from workbench.study.numbers import (
    chosen_rate,
    ci,
    has_result,
    number_blocks,
    numbered_text,
    rate_key,
)
from workbench.study.tables import Criterion, verdict
from workbench.tune import TUNED

if TYPE_CHECKING:
    from workbench.study.sections import Context


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
    if not has_result(ctx, RECOMMENDATION_FILE):
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
            *ci(("simulation", rec, "streaming", metric), stats["streaming"], 1),
            " s, batch ",
            *ci(("simulation", rec, "batch", metric), stats["batch"], 1),
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
    if has_result(ctx, RATE_FILE, rec):
        sweep = ctx.load(RATE_FILE, rec)
        rate = chosen_rate(ctx)
        chosen = rate["rate_limit_items_per_s"]
        row = next(r for r in sweep["rows"] if r["rate_limit_items_per_s"] == chosen)
        free = sweep["rows"][0]
        key: Key = ("rate_limit", rec)
        batch_peak = Num(
            (*key, "batch", "peak_enqueue_rate_10s"), sweep["batch"]["peak_enqueue_rate_10s"]
        )
        at_rate = Num((*key, rate_key(row), "peak_enqueue_rate_10s"), row["peak_enqueue_rate_10s"])
        unlimited = Num(
            (*key, rate_key(free), "peak_enqueue_rate_10s"), free["peak_enqueue_rate_10s"]
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
                ["peak queue depth: batch ", *ci((*key, "batch", "peak_queue_depth"), depth_b, 1),
                 f", streaming at {row['rate']} ", *ci((*key, rate_key(row), "peak_queue_depth"), depth_s, 1)],
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
    if has_result(ctx, ROLLOUT_FILE, rec):
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
            name=numbered_text(c.name, ("text", "criteria", rec, c.id, "name")),
            evidence=numbered_text(c.evidence, ("text", "criteria", rec, c.id, "evidence")),
        )
        for c in out
    ]


def merge_criteria(base: Sequence[Criterion], extra: Sequence[Criterion]) -> list[Criterion]:
    """``base`` with each criterion of ``extra`` in place of the one with its id."""
    by_id = {c.id: c for c in extra}
    return [by_id.get(c.id, c) for c in base]


def criteria_of(ctx: Context, rec: str) -> list[tables.Criterion]:
    """The success criteria of ``rec``: the replay's, with those the rollout study settles
    (when its results are there) in their place."""
    return merge_criteria(tables.success_criteria(rec, ctx.replay(rec)), study_criteria(ctx, rec))
