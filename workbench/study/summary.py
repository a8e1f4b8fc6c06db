"""The summary at the top of the report: the decision, the rule that made it and the headline
numbers it rests on (``HEADLINES``), all a function of the results of every recording."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from workbench.errors import WorkbenchError
from workbench.replay import MODES
from workbench.report import (
    Block,
    Bullets,
    Num,
    Paragraph,
    Section,
    Table,
    Text,
    improvement,
    plain,
)
from workbench.study import decision_sections, tables
from workbench.study._results import RECOMMENDATION_FILE
from workbench.study.decision_sections import criteria_of
from workbench.study.numbers import replay_total_num, simulated_num

if TYPE_CHECKING:
    from workbench.study.sections import Context


# -- the summary -----------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Headline:
    id: str
    label: str
    unit: str
    better: str
    read: Callable[[Context, str, str], Num]  # (ctx, recording, mode) -> the number


def _simulated(ctx: Context, rec: str) -> dict[str, Any]:
    sim = ctx.simulation(rec)
    if sim is None:
        raise WorkbenchError("the summary needs the simulation results")
    return sim


HEADLINES: list[Headline] = [
    Headline(
        "first_item_queued",
        "Time to first item queued, mean of runs",
        "s",
        "lower",
        lambda ctx, rec, m: replay_total_num(
            rec, ctx.replay(rec), m, "time_to_first_item_queued_seconds"
        ),
    ),
    Headline(
        "peak_enqueue_rate",
        "Peak enqueue rate, mean of runs",
        "items/s",
        "lower",
        lambda ctx, rec, m: replay_total_num(rec, ctx.replay(rec), m, "peak_enqueue_rate_10s"),
    ),
    Headline(
        "first_item_processed_simulated",
        "Time to first item processed from each run's start (simulated, mean of seeds)",
        "s",
        "lower",
        lambda ctx, rec, m: simulated_num(
            rec, _simulated(ctx, rec), m, "run_first_item_processed_s"
        ),
    ),
]


# The criteria streaming must pass on every recording to be recommended: what the design
# promises and what must never break. The others are conditions of the rollout.
REQUIRED_CRITERIA = ("first_item", "no_duplicates", "failing_source")


def summary_section(ctx: Context) -> Section:
    """The decision and the numbers it rests on, from the results of every recording."""
    criteria = {rec: criteria_of(ctx, rec) for rec in ctx.recordings}
    required_ok = all(
        c.verdict in ("PASS", "-")
        for cs in criteria.values()
        for c in cs
        if c.id in REQUIRED_CRITERIA
    )
    failing = [(rec, c) for rec, cs in criteria.items() for c in cs if c.verdict == "FAIL"]
    not_run = {c.id: c.name for cs in criteria.values() for c in cs if c.verdict == "NOT RUN"}
    judged = [c for cs in criteria.values() for c in cs if c.verdict in ("PASS", "FAIL")]
    passed = sum(1 for c in judged if c.verdict == "PASS")

    decision = "Move the collector to streaming." if required_ok else "Keep batch for now."
    blocks: list[Block] = [
        *decision_sections.recommendation_blocks(ctx),
        Paragraph(
            [
                f"**Recommendation: {decision}** Rule: streaming is recommended when, on every "
                "recording, it queues its first item within ",
                tables.FIRST_ITEM_TARGET_S,
                " s in every run, queues no content hash twice, and a failing source does not "
                "stop the others; every other failing criterion becomes a condition of the rollout. ",
                Num(("summary", "criteria_passed"), passed),
                " of ",
                Num(("summary", "criteria_judged"), len(judged)),
                " judged criteria pass (",
                Num(("summary", "recordings"), len(ctx.recordings)),
                " recording)." if len(ctx.recordings) == 1 else " recordings).",
            ]
        ),
    ]
    if failing:
        blocks.append(Paragraph("Conditions before the rollout (criteria that fail):"))
        blocks.append(Bullets([[f"{rec}: ", c.name, " - ", c.evidence] for rec, c in failing]))
    if not_run:
        undecided = (
            ""
            if ctx.results.exists(RECOMMENDATION_FILE)
            else "Not decided by this report yet: the rollout option, the send rate limit and "
            "the scaler settings; "
        )
        blocks.append(
            Paragraph(
                undecided
                + "criteria not evaluated: "
                + "; ".join(plain(name) for name in not_run.values())
                + "."
            )
        )
    rows: list[list[Text]] = []
    for headline in HEADLINES:
        for rec in ctx.recordings:
            nums = [headline.read(ctx, rec, m) for m in MODES]
            ratio_key = ("summary", rec, "streaming_vs_batch", headline.id)
            rows.append(
                [
                    headline.label,
                    rec,
                    headline.unit,
                    *nums,
                    improvement(nums[0].value, nums[1].value, headline.better, ratio_key),
                ]
            )
    blocks.append(
        Table(
            ["Headline number", "Recording", "Unit", "Batch", "Streaming", "Streaming vs batch"],
            rows,
            source="`replay-<rec>.json`: `modes.<mode>.total`; `simulation-<rec>.json`: "
            "`modes.<mode>.<metric>.mean`",
            numeric=[False, False, False, True, True, False],
        )
    )
    return Section("summary", "Summary", blocks)
