"""The report's sections, built from the result files, and the assembly of the report.

A section is a :class:`SectionSpec` in ``SECTIONS``: the result files it reads (per recording)
and a builder that turns them into a ``Section`` (text, tables, figures; every number a
``Num``). A new study adds its notebook's result file, a builder and one line in ``SECTIONS``;
the summary at the top is a function of the results (``summary.summary_section``), with its
headline numbers listed in ``summary.HEADLINES``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from pipeline.items import MIN_TEXT_KEY_WORDS
from workbench import plots
from workbench.errors import WorkbenchError
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
    Report,
    Section,
    Text,
    plain,
)
from workbench.study import decision_sections, explore_tables, rollout_sections, tables
from workbench.study._results import (
    EXPLORE_FILE,
    HAZARD_FILE,
    RATE_FILE,
    REPLAY_FILE,
    ROLLOUT_FILE,
    SIMULATION_FILE,
    TUNING_FILE,
    WRITTEN_BY,
    Results,
    recording_paths,
    shown_path,
)
from workbench.study.decision_sections import criteria_of
from workbench.study.numbers import replay_total_num, simulated_num
from workbench.study.summary import summary_section

REPORT_TITLE = "Rollout report: batch or streaming collection"


@dataclasses.dataclass
class Context:
    """What a section builder reads: the result files of the given recordings."""

    results: Results
    recordings: list[str]  # recording folder names, in report order
    simulated: bool = True  # False: leave simulated rows out (notebook 02 runs before 03)
    read: list[str] = dataclasses.field(default_factory=list)  # result files read, in order
    _cache: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict, repr=False)

    @classmethod
    def of(cls, out: str | Path, recordings: Sequence[str | Path], **kwargs: Any) -> Context:
        names = [p.name for p in recording_paths(list(recordings))]
        return cls(Results(out), names, **kwargs)

    def load(self, template: str, rec: str = "") -> dict[str, Any]:
        name = template.format(name=rec)
        if name not in self._cache:
            self._cache[name] = self.results.load(template, rec)
            self.read.append(name)
        return self._cache[name]

    def explore(self, rec: str) -> dict[str, Any]:
        doc = self.load(EXPLORE_FILE).get("recordings", {})
        if rec not in doc:
            raise WorkbenchError(
                f"{self.results.path(EXPLORE_FILE)} has no recording {rec!r}; run notebook "
                f"{WRITTEN_BY[EXPLORE_FILE]} with it"
            )
        return doc[rec]  # type: ignore[no-any-return]

    def replay(self, rec: str) -> dict[str, Any]:
        return self.load(REPLAY_FILE, rec)

    def simulation(self, rec: str) -> dict[str, Any] | None:
        if not self.simulated:
            return None
        return self.load(SIMULATION_FILE, rec)


@dataclasses.dataclass(frozen=True)
class SectionSpec:
    id: str
    build: Callable[[Context], Section]
    inputs: tuple[str, ...]  # result file templates it reads for every recording
    optional: bool = False  # True: left out (and named) when an input is missing


def _figure(
    name: str, title: Text, draw: Callable[[str], Any], source: str, note: Text = ""
) -> Figure:
    """A figure block; ``draw`` gets the title as plain text and returns the matplotlib figure."""
    return Figure(
        name=name, title=title, png=plots.png(draw(plain(title))), source=source, note=note
    )


def _whole(value: Any) -> Any:
    """A whole float as an int, so that it shows as one (a speed of 20, not 20.00)."""
    return int(value) if isinstance(value, float) and value.is_integer() else value


def run_offsets_s(replay: dict[str, Any]) -> list[float]:
    """Each run's start in seconds after the first run's (the simulation's time axis)."""
    runs = replay["modes"][MODES[0]]["runs"]
    starts = [datetime.fromisoformat(str(r["started_at"]).replace("Z", "+00:00")) for r in runs]
    return [(s - starts[0]).total_seconds() for s in starts]


# -- 01: the recordings ----------------------------------------------------------------------
def recordings_section(ctx: Context) -> Section:
    blocks: list[Block] = [
        Paragraph(
            "Each recording replayed through the real collectors with no storage: all sources at "
            "once on a fast clock (when items become available) and one after another (the "
            "order a sequential batch collection reads them, for the overlap between runs). "
            "The first-item limit is the earliest any item could be queued: per source, the "
            "recorded responses up to its first accepted item; the minimum over sources."
        )
    ]
    for rec in ctx.recordings:
        doc = ctx.explore(rec)
        key: Key = ("recordings", rec)
        firsts = [r["first_accepted_at"] for r in doc["runs"] if r["first_accepted_at"] is not None]
        latest = [
            s["first_accepted_at"]
            for r in doc["runs"]
            for s in r["sources"].values()
            if s.get("first_accepted_at") is not None
        ]
        earliest_n = Num((*key, "earliest_first_item_s"), min(firsts, default=None))
        latest_n = Num((*key, "latest_first_item_of_a_source_s"), max(latest, default=None))
        blocks += [
            Heading(rec),
            Paragraph(
                [
                    f"`{doc['recording']}` ({'synthetic' if doc['synthetic'] else 'recorded'}): ",
                    Num((*key, "run_count"), len(doc["runs"])),
                    " runs of ",
                    Num((*key, "sources_configured"), len(doc["sources"])),
                    " sources; ",
                    Num((*key, "duplicates"), doc["duplicates"]),
                    " of ",
                    Num((*key, "items_collected"), doc["items_collected"]),
                    " items collected are duplicates (rate ",
                    Num((*key, "deduplication_hit_rate"), doc["deduplication_hit_rate"]),
                    ").",
                ]
            ),
            explore_tables.recording_runs_table(rec, doc),
            explore_tables.recording_sources_table(rec, doc),
            _figure(
                f"{rec}-source-timelines",
                [
                    "Items are available from ",
                    earliest_n,
                    " s into a run; the slowest source delivers its first item at ",
                    latest_n,
                    " s",
                ],
                lambda title, doc=doc: plots.source_timelines(doc, title),
                "`explore.json`: `recordings.<rec>.runs[i].accepted_at`",
                note="One dot per item, at the time its page was parsed with every source "
                "started at once; dotted line: the run's first-item limit.",
            ),
            explore_tables.overlap_table(rec, doc),
        ]
    return Section("recordings", "The recordings", blocks)


def duplicates_section(ctx: Context) -> Section:
    """Notebook 01's view of the duplicates by key kind: per source and examples (not in the
    report, whose overlap table gives the counts per run)."""
    blocks: list[Block] = [
        Paragraph(
            "An item is a duplicate when its id, its link or (from "
            f"{MIN_TEXT_KEY_WORDS} words of title and body) its text was seen in an earlier run "
            "or earlier in the run; it counts under the first kind that matched, in the order "
            "id, link, text (`docs/dedup.md`)."
        )
    ]
    for rec in ctx.recordings:
        doc = ctx.explore(rec)
        blocks += [
            Heading(rec),
            explore_tables.dedup_sources_table(rec, doc),
            explore_tables.dedup_examples_table(rec, doc),
        ]
    return Section("duplicates", "Duplicates by key kind", blocks)


# -- 02: the replay --------------------------------------------------------------------------
def replay_section(ctx: Context) -> Section:
    blocks: list[Block] = []
    for rec in ctx.recordings:
        replay = ctx.replay(rec)
        sim = ctx.simulation(rec)
        key: Key = ("replay", rec)
        first = [
            replay_total_num(rec, replay, m, "time_to_first_item_queued_seconds") for m in MODES
        ]
        peak = [replay_total_num(rec, replay, m, "peak_enqueue_rate_10s") for m in MODES]
        rate = [replay_total_num(rec, replay, m, "throughput_items_per_second") for m in MODES]
        blocks += [
            Heading(rec),
            Paragraph(
                [
                    f"`{replay['recording']}` replayed at speed ",
                    Num((*key, "speed"), _whole(replay["speed"])),
                    " through the real batch and streaming collectors against Azure Storage "
                    "(Azurite), one fresh queue and containers per mode, the history carried from "
                    "run to run; ",
                    Num((*key, "processors"), replay["processors"]),
                    f" processor workers drain the queue (service time `{replay['service_time']}`). "
                    "Times are recording seconds from the start of each collection run.",
                ]
            ),
            tables.comparison_table(rec, replay, sim),
            tables.criteria_table(rec, replay, criteria_of(ctx, rec)),
            _figure(
                f"{rec}-items-queued",
                [
                    "Streaming queues its first item after ",
                    first[1],
                    " s on average, batch after ",
                    first[0],
                    " s",
                ],
                lambda title, replay=replay: plots.items_queued_over_time(replay, title),
                f"`replay-{rec}.json`: `modes.<mode>.runs[i].messages[j].enqueued_at`",
                note="Dotted line: the first-item limit of the run.",
            ),
            _figure(
                f"{rec}-enqueue-rate",
                [
                    "Peak enqueue rate over ",
                    tables.PEAK_WINDOW_S,
                    " s: batch ",
                    peak[0],
                    " items/s, streaming ",
                    peak[1],
                    " items/s (mean of runs)",
                ],
                lambda title, replay=replay: plots.enqueue_rate(replay, title),
                f"`replay-{rec}.json`: `modes.<mode>.runs[i].messages[j].enqueued_at`",
            ),
            tables.per_source_table(rec, replay),
            _figure(
                f"{rec}-per-source-throughput",
                [
                    "Throughput over all sources: streaming ",
                    rate[1],
                    " items/s, batch ",
                    rate[0],
                    " items/s (mean of runs)",
                ],
                lambda title, replay=replay: plots.per_source_throughput(replay, title),
                f"`replay-{rec}.json`: `modes.<mode>.runs[i].per_source.<source>`",
            ),
        ]
        if replay.get("processors"):
            p95 = [
                replay_total_num(rec, replay, m, "processing", "latency_p95_seconds") for m in MODES
            ]
            title: list[Inline] = [
                "End-to-end latency p95: batch ",
                p95[0],
                " s, streaming ",
                p95[1],
                " s (mean of runs)",
            ]
            blocks.append(
                _figure(
                    f"{rec}-latency",
                    title,
                    lambda t, replay=replay: plots.latency_distribution(replay, t),
                    f"`replay-{rec}.json`: `modes.<mode>.runs[i].messages[j]` "
                    "(`processed_at - enqueued_at`)",
                    note="Dashed lines: each mode's p95 latency, the mean of its runs' p95.",
                )
            )
        blocks.append(tables.per_run_table(rec, replay))
    return Section("replay", "Batch and streaming, replayed against Azure Storage", blocks)


# -- 03: the simulation ----------------------------------------------------------------------
def simulation_section(ctx: Context) -> Section:
    blocks: list[Block] = []
    for rec in ctx.recordings:
        sim = ctx.simulation(rec)
        if sim is None:
            continue
        replay = ctx.replay(rec)
        st = sim["settings"]
        key: Key = ("simulation", rec)
        seeds = Num((*key, "seeds"), st["seeds"])
        offsets = run_offsets_s(replay)
        depth = [simulated_num(rec, sim, m, "peak_queue_depth") for m in MODES]
        replicas = [simulated_num(rec, sim, m, "max_replicas") for m in MODES]
        ttfp = [simulated_num(rec, sim, m, "run_first_item_processed_s") for m in MODES]
        p95 = [simulated_num(rec, sim, m, "latency_p95_s") for m in MODES]
        timeline_seed = Num((*key, "timeline_seed"), sim["timeline"][MODES[0]]["seed"])
        queue_title: list[Inline] = [
            "Peak queue depth: batch ",
            depth[0],
            ", streaming ",
            depth[1],
            "; max replicas: batch ",
            replicas[0],
            ", streaming ",
            replicas[1],
            " (means over seeds)",
        ]
        seeds_title: list[Inline] = [
            "Time to first item processed: batch ",
            ttfp[0],
            " s, streaming ",
            ttfp[1],
            " s; p95 latency: batch ",
            p95[0],
            " s, streaming ",
            p95[1],
            " s",
        ]
        blocks += [
            Heading(rec),
            Paragraph(
                [
                    "The replay's enqueue times of each mode (all runs) through the SimPy model of "
                    f"KEDA and the HPA (`sim/`, semantics in `docs/simulation.md`) with the "
                    f"ScaledObject `{shown_path(st['scaledobject'])}` on `{st['platform']}`: pods "
                    f"start in `{st['startup']}` s and handle ",
                    Num((*key, "concurrency"), st["concurrency"]),
                    f" messages at once, each in `{st['service']}` s; ",
                    seeds,
                    " seeds. Each run's arrivals start at the run's real offset from the first "
                    "(its start time in the recording). KEDA's poll and the HPA's sync phases are "
                    "drawn per seed, uniform over their periods: ",
                    sim.get("phases_why", ""),
                    " Per-run metrics are measured from each run's start (or its first item "
                    "queued) and averaged over the runs of a seed.",
                ]
            ),
            tables.simulation_table(rec, sim),
            _figure(
                f"{rec}-queue-and-replicas",
                queue_title,
                lambda t, sim=sim, offsets=offsets: plots.queue_and_replicas(sim, offsets, t),
                f"`simulation-{rec}.json`: `timeline.<mode>`",
                note=[
                    "Timeline of seed ",
                    timeline_seed,
                    "; each column is one run, from its start.",
                ],
            ),
            _figure(
                f"{rec}-seeds",
                seeds_title,
                lambda t, sim=sim: plots.seed_distributions(sim, SEED_METRICS, t),
                f"`simulation-{rec}.json`: `per_seed.<mode>`, `modes.<mode>.<metric>`",
                note=[
                    "Dots: one per seed; diamonds: the mean with its ",
                    tables.CONFIDENCE_PERCENT,
                    " % interval.",
                ],
            ),
            tables.scale_events_table(rec, sim, offsets),
        ]
    return Section("simulation", "KEDA scaling of the processor, simulated", blocks)


SEED_METRICS = (
    ("run_first_item_processed_s", "time to first item processed, mean of runs (s)"),
    ("latency_p95_s", "end-to-end latency p95 (s)"),
)


def provenance_section(ctx: Context) -> Section:
    items: list[Text] = [f"`{name}` (written by notebook {_writer(name)})" for name in ctx.read]
    items.append("the executed notebooks, in `notebooks/` next to this report")
    return Section(
        "provenance",
        "Where the numbers come from",
        [
            Paragraph(
                "Every table names its file and key. `metrics.json` holds every number this "
                "report shows, under the key each table and figure names. The files:"
            ),
            Bullets(items),
        ],
    )


def _writer(file_name: str) -> str:
    for template, notebook in WRITTEN_BY.items():
        prefix, _, suffix = template.partition("{name}")
        if file_name.startswith(prefix) and file_name.endswith(suffix):
            return f"`{notebook}`"
    return "?"


SECTIONS: list[SectionSpec] = [
    SectionSpec("recordings", recordings_section, (EXPLORE_FILE,)),
    SectionSpec("replay", replay_section, (REPLAY_FILE,)),
    SectionSpec("simulation", simulation_section, (REPLAY_FILE, SIMULATION_FILE)),
    SectionSpec("rollout", rollout_sections.rollout_section, (ROLLOUT_FILE,), optional=True),
    SectionSpec("rate_limit", rollout_sections.rate_limit_section, (RATE_FILE,), optional=True),
    SectionSpec(
        "hazards", rollout_sections.hazard_section, (HAZARD_FILE, RATE_FILE), optional=True
    ),
    SectionSpec("tuning", decision_sections.tuning_section, (TUNING_FILE,), optional=True),
]


# -- assembly --------------------------------------------------------------------------------
def assemble(out: str | Path, recordings: Sequence[str | Path]) -> Report:
    """The report from the result files in ``out`` for ``recordings``; a missing required
    input is an error naming the file and the notebook that writes it."""
    ctx = Context.of(out, recordings)
    sections: list[Section] = []
    left_out: list[str] = []
    for spec in SECTIONS:
        missing = [
            ctx.results.path(t, rec)
            for t in spec.inputs
            for rec in ctx.recordings
            if not ctx.results.exists(t, rec)
        ]
        if missing and spec.optional:
            left_out.append(f"{spec.id} (no {', '.join(p.name for p in missing)})")
            continue
        if missing:
            writer = WRITTEN_BY.get(
                next(
                    t
                    for t in spec.inputs
                    if not all(ctx.results.exists(t, r) for r in ctx.recordings)
                ),
                "?",
            )
            raise WorkbenchError(
                f"section {spec.id!r} needs {missing[0]}; notebook {writer} writes it"
            )
        sections.append(spec.build(ctx))
    summary = summary_section(ctx)
    if left_out:
        summary.blocks.append(Paragraph("Sections left out: " + "; ".join(left_out) + "."))
    sections.append(provenance_section(ctx))
    return Report(REPORT_TITLE, summary, sections, inputs=list(ctx.read))
