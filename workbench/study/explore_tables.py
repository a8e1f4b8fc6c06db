"""The tables of the recordings' exploration (notebook 01): runs, sources, overlap between runs
and duplicates by key kind, each number a ``Num`` keyed by its place in ``metrics.json``."""

from __future__ import annotations

from typing import Any

from workbench.report import Inline, Key, Num, Table, Text
from workbench.study.tables import get_path, mean_present, started

__all__ = [
    "dedup_examples_table",
    "dedup_sources_table",
    "overlap_table",
    "recording_runs_table",
    "recording_sources_table",
]


# -- the recordings (explore.json) -----------------------------------------------------------
def _counts(counts: dict[str, int], key: Key) -> list[Inline]:
    out: list[Inline] = []
    for i, (name, n) in enumerate(sorted(counts.items())):
        out += ([", "] if i else []) + [f"`{name}` ", Num((*key, name), n)]
    return out or ["-"]


def recording_runs_table(rec: str, explore: dict[str, Any]) -> Table:
    rows: list[list[Text]] = []
    for i, run in enumerate(explore["runs"]):

        def n(*path: str, _i: int = i, _run: dict[str, Any] = run) -> Num:
            return Num(("recordings", rec, "runs", _i, *path), get_path(_run, path))

        rows.append(
            [n("index"), started(run["started_at"]), n("totals", "requests"), n("totals", "accepted"),
             _counts(run["totals"]["errors"], ("recordings", rec, "runs", i, "totals", "errors")),
             n("first_accepted_at"), n("first_item_limit_seconds"),
             n("concurrent_collection_seconds"), n("overlap", "sequential_collection_seconds")]
        )  # fmt: skip
    return Table(
        ["Run", "Started (UTC)", "Requests", "Items", "Errors by kind",
         "First item available (s)", "First-item limit (s)", "All sources at once (s)",
         "One source after another (s)"],
        rows,
        source="`explore.json`: `recordings.<rec>.runs[i]`",
        numeric=[True, True, True, True, False, True, True, True, True],
    )  # fmt: skip


def overlap_table(rec: str, explore: dict[str, Any]) -> Table:
    rows: list[list[Text]] = []
    for i, run in enumerate(explore["runs"]):

        def n(*path: str, _i: int = i, _run: dict[str, Any] = run) -> Num:
            return Num(
                ("recordings", rec, "runs", _i, "overlap", *path), get_path(_run["overlap"], path)
            )

        rows.append(
            [Num(("recordings", rec, "runs", i, "index"), run["index"]), n("items_collected"),
             n("duplicates"), n("duplicates_seen_in_earlier_runs"), n("duplicates_within_run"),
             n("duplicates_by_key", "id"), n("duplicates_by_key", "link"),
             n("duplicates_by_key", "text"), n("deduplication_hit_rate")]
        )  # fmt: skip
    return Table(
        ["Run", "Items", "Duplicates", "Seen in an earlier run", "Seen earlier in the run",
         "Matched by id", "Matched by link", "Matched by text", "Dedup rate"],
        rows,
        source="`explore.json`: `recordings.<rec>.runs[i].overlap` (a duplicate counts under the "
        "first key kind that matched: id, link, text)",
        numeric=[True] * 9,
    )  # fmt: skip


def dedup_sources_table(rec: str, explore: dict[str, Any]) -> Table:
    """Per source, over all runs: duplicates and the key kind each counted under."""
    dedup = explore["deduplication"]
    rows: list[list[Text]] = []
    for name, counts in dedup["per_source"].items():
        key: Key = ("recordings", rec, "deduplication", "per_source", name)
        rows.append(
            [name, Num((*key, "duplicates"), counts["duplicates"]),
             *(Num((*key, "by_key", kind), counts["by_key"][kind]) for kind in dedup["key_order"])]
        )  # fmt: skip
    return Table(
        ["Source", "Duplicates", *(f"By {kind}" for kind in dedup["key_order"])],
        rows,
        source="`explore.json`: `recordings.<rec>.deduplication.per_source` (each duplicate under "
        "the first key kind that matched: id, link, text)",
    )


def dedup_examples_table(rec: str, explore: dict[str, Any]) -> Table:
    """The first few duplicates of each key kind: both items and the key that matched."""
    dedup = explore["deduplication"]
    rows: list[list[Text]] = []
    for kind in dedup["key_order"]:
        for example in dedup["examples"][kind]:
            item, first = example["item"], example["first_seen"]
            rows.append(
                [kind, f"{item['run']}", item["source"], item["title"], f"{first['run']}",
                 first["source"], first["title"], f"`{example['key']}`"]
            )  # fmt: skip
    return Table(
        ["Kind", "Run", "Source", "Title", "First run", "First source", "First title",
         "Key that matched"],
        rows,
        source="`explore.json`: `recordings.<rec>.deduplication.examples`",
        numeric=[False] * 8,
    )  # fmt: skip


def recording_sources_table(rec: str, explore: dict[str, Any]) -> Table:
    """Per source, summed over runs: requests, items, rejections, errors, bytes."""
    rows: list[list[Text]] = []
    for name, kind in explore["sources"].items():
        stats = [run["sources"].get(name, {}) for run in explore["runs"]]
        key: Key = ("recordings", rec, "sources", name)

        def total(field: str, _stats: list[dict[str, Any]] = stats) -> int:
            return sum(s.get(field, 0) for s in _stats)

        def merged(field: str, _stats: list[dict[str, Any]] = stats) -> dict[str, int]:
            out: dict[str, int] = {}
            for s in _stats:
                for k, v in s.get(field, {}).items():
                    out[k] = out.get(k, 0) + v
            return out

        firsts = [s.get("first_accepted_at") for s in stats]
        rows.append(
            [name, kind, Num((*key, "requests"), total("requests")),
             Num((*key, "accepted"), total("accepted")),
             _counts(merged("rejections"), (*key, "rejections")),
             _counts(merged("errors"), (*key, "errors")),
             Num((*key, "bytes_received"), total("bytes_received")),
             Num((*key, "first_accepted_at_mean"), mean_present(firsts))]
        )  # fmt: skip
    return Table(
        ["Source", "Type", "Requests", "Items", "Rejections by reason", "Errors by kind",
         "Bytes", "First item available (s, mean)"],
        rows,
        source="`explore.json`: `recordings.<rec>.runs[i].sources.<source>` (sums over runs)",
        numeric=[False, False, True, True, False, False, True, True],
    )  # fmt: skip
