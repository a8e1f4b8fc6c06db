"""Helpers the study's section builders share: numbers in prose turned into keyed ``Num``s (the
report keeps every number it shows in ``metrics.json``), intervals, and which results exist."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from workbench.report import Block, Bullets, Figure, Inline, Key, Num, Paragraph, Table, Text
from workbench.study._results import RATE_FILE, RECOMMENDATION_FILE

if TYPE_CHECKING:
    from workbench.study.sections import Context


def ci(key: Key, stats: dict[str, Any] | None, digits: int = 2) -> list[Inline]:
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


def numbered_text(text: Text, key: Key) -> Text:
    parts_in = [text] if isinstance(text, str | Num) else list(text)
    out: list[Inline] = []
    for i, part in enumerate(parts_in):
        if isinstance(part, str):
            out.extend(numbered(part, (*key, i)))
        elif isinstance(part, Num):
            out.append(part)
        else:
            out.extend(numbered_text(part, (*key, i)))  # type: ignore[arg-type]
    return out


def number_blocks(blocks: list[Block], key: Key) -> list[Block]:
    """``blocks`` with the numbers of their plain text as ``Num``s under ``key`` (headers and
    headings hold none)."""
    for b, block in enumerate(blocks):
        k: Key = (*key, b)
        if isinstance(block, Paragraph):
            block.text = numbered_text(block.text, k)
        elif isinstance(block, Bullets):
            block.items = [numbered_text(t, (*k, i)) for i, t in enumerate(block.items)]
        elif isinstance(block, Table):
            block.caption = numbered_text(block.caption, (*k, "caption"))
            block.rows = [
                [numbered_text(c, (*k, r, j)) for j, c in enumerate(row)]
                for r, row in enumerate(block.rows)
            ]
        elif isinstance(block, Figure):
            block.title = numbered_text(block.title, (*k, "title"))
            block.note = numbered_text(block.note, (*k, "note"))
    return blocks


def has_result(ctx: Context, template: str, rec: str = "") -> bool:
    return ctx.results.exists(template, rec)


def rate_key(row: dict[str, Any]) -> str:
    """A sweep row's place in ``metrics.json`` (no slash: keys are paths)."""
    rate = row["rate_limit_items_per_s"]
    return "none" if rate is None else f"{rate:g}"


def chosen_rate(ctx: Context) -> dict[str, Any]:
    if has_result(ctx, RECOMMENDATION_FILE):
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


def replay_total_num(rec: str, replay: dict[str, Any], mode: str, *path: str) -> Num:
    value: Any = replay["modes"][mode]["total"]
    for key in path:
        value = value.get(key) if isinstance(value, dict) else None
    return Num(("replay", rec, mode, *path), value)


def simulated_num(rec: str, sim: dict[str, Any], mode: str, metric: str, stat: str = "mean") -> Num:
    return Num(
        ("simulation", rec, mode, metric, stat), sim["modes"][mode].get(metric, {}).get(stat)
    )
