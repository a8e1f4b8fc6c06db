"""The rollout report as a document, and its two renderings: one self-contained HTML file and
Markdown, with ``metrics.json`` holding every number either shows.

A report is a summary :class:`Section` and a list of sections; a section holds blocks
(:class:`Paragraph`, :class:`Bullets`, :class:`Table`, :class:`Figure`). Text is a string or a
list of strings and :class:`Num` values: every number a reader sees is a ``Num`` with a key (its
path in ``metrics.json``), so the two renderings and the JSON cannot disagree. In the HTML each
number is a ``<data value="key/path">`` element; figures are PNG data URIs; no script, no
external style, font or image.
"""

from __future__ import annotations

import base64
import dataclasses
import html
import json
import math
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pandas as pd

Key = tuple[str | int, ...]


def fmt(value: Any, digits: int = 2) -> str:
    """The one number format used by tables and reports (tests compare with it)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


@dataclasses.dataclass(frozen=True)
class Num:
    """A number as the report shows it: ``key`` is its path in ``metrics.json``."""

    key: Key
    value: int | float | None
    digits: int = 2

    def __post_init__(self) -> None:
        object.__setattr__(self, "key", tuple(str(k) for k in self.key))
        if isinstance(self.value, float) and math.isnan(self.value):
            object.__setattr__(self, "value", None)

    @property
    def text(self) -> str:
        return fmt(self.value, self.digits)


Inline = str | Num
Text = Inline | Sequence[Inline]


def parts(text: Text) -> list[Inline]:
    """``text`` as a flat list of strings and numbers."""
    if isinstance(text, str | Num):
        return [text]
    out: list[Inline] = []
    for part in text:
        out.extend(parts(part))
    return out


def plain(text: Text) -> str:
    """``text`` with its numbers formatted, as one string (figure titles, the terminal)."""
    return "".join(p.text if isinstance(p, Num) else p for p in parts(text))


def improvement(batch: Any, streaming: Any, better: str, key: Key = ("ratio",)) -> list[Inline]:
    """How streaming compares with batch, in words a reader can check against the columns;
    the factor is a number under ``key``."""
    if better == "" or batch is None or streaming is None:
        return []
    if batch == streaming:
        return ["same"]
    lower = streaming < batch
    good = lower if better == "lower" else not lower
    big, small = (batch, streaming) if lower else (streaming, batch)
    words = ("lower" if lower else "higher") + ("" if good else " (worse)")
    if small > 0:
        return [Num(key, big / small, 1), f"x {words}"]
    return [words]


# -- blocks ----------------------------------------------------------------------------------
@dataclasses.dataclass
class Heading:
    """A sub-heading inside a section (one per recording, for example)."""

    text: str


@dataclasses.dataclass
class Paragraph:
    text: Text


@dataclasses.dataclass
class Bullets:
    items: list[Text]


@dataclasses.dataclass
class Table:
    """A table: header labels, rows of cells, and where its numbers come from (file and key)."""

    columns: list[str]
    rows: list[list[Text]]
    source: str
    caption: Text = ""
    numeric: Sequence[bool] | None = None  # right-aligned columns; default: columns 1..n

    def aligned_right(self) -> list[bool]:
        if self.numeric is not None:
            return list(self.numeric)
        return [i > 0 for i in range(len(self.columns))]

    @property
    def frame(self) -> pd.DataFrame:
        """The table as a DataFrame: a cell that is one number holds its value."""

        def cell(value: Text) -> Any:
            flat = [p for p in parts(value) if p != ""]
            if len(flat) == 1 and isinstance(flat[0], Num):
                return flat[0].value
            return plain(value)

        return pd.DataFrame([[cell(c) for c in row] for row in self.rows], columns=self.columns)


@dataclasses.dataclass
class Figure:
    """A PNG figure whose title states the finding (drawn in the image and used as alt text)."""

    name: str  # file stem, unique in a report
    title: Text
    png: bytes
    source: str
    note: Text = ""

    def _repr_png_(self) -> bytes:
        return self.png


Block = Heading | Paragraph | Bullets | Table | Figure


@dataclasses.dataclass
class Section:
    id: str
    title: str
    blocks: list[Block]

    def numbers(self) -> Iterator[Num]:
        for block in self.blocks:
            texts: Iterable[Text]
            if isinstance(block, Paragraph):
                texts = [block.text]
            elif isinstance(block, Bullets):
                texts = block.items
            elif isinstance(block, Table):
                texts = [block.caption, *(c for row in block.rows for c in row)]
            elif isinstance(block, Figure):
                texts = [block.title, block.note]
            else:
                texts = []
            for text in texts:
                yield from (p for p in parts(text) if isinstance(p, Num))

    def _repr_html_(self) -> str:
        return f'<div class="wb-report"><style>{CSS}</style>{_section_html(self, 2)}</div>'

    def _repr_markdown_(self) -> str:
        return _section_markdown(self, "##", None)


@dataclasses.dataclass
class Report:
    title: str
    summary: Section
    sections: list[Section]
    inputs: list[str]  # the JSON files the numbers come from

    def all_sections(self) -> list[Section]:
        return [self.summary, *self.sections]

    def metrics(self) -> dict[str, Any]:
        """Every number the report shows, nested by key; a key shown with two values is a bug."""
        tree: dict[str, Any] = {}
        seen: dict[Key, Any] = {}
        for section in self.all_sections():
            for num in section.numbers():
                if num.key in seen and seen[num.key] != num.value:
                    raise ValueError(
                        f"report number {'/'.join(num.key)} shown as {seen[num.key]!r} "
                        f"and {num.value!r}"
                    )
                seen[num.key] = num.value
                node = tree
                for part in num.key[:-1]:
                    child = node.setdefault(part, {})
                    if not isinstance(child, dict):
                        raise ValueError(f"report number key {'/'.join(num.key)} clashes")
                    node = child
                if isinstance(node.get(num.key[-1]), dict):
                    raise ValueError(f"report number key {'/'.join(num.key)} clashes")
                node[num.key[-1]] = num.value
        return tree

    def html(self) -> str:
        toc = "".join(
            f'<li><a href="#{_attr(s.id)}">{_esc(s.title)}</a></li>' for s in self.sections
        )
        body = _section_html(self.summary, 2, css_class="summary")
        body += f"<nav><h2>Contents</h2><ol>{toc}</ol></nav>"
        body += "".join(_section_html(s, 2) for s in self.sections)
        inputs = ", ".join(f"<code>{_esc(name)}</code>" for name in self.inputs)
        return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(self.title)}</title>
<style>{CSS}</style>
</head>
<body>
<main class="wb-report">
<h1>{_esc(self.title)}</h1>
{body}
<footer>Every number above is in <code>metrics.json</code>, read from {inputs}.</footer>
</main>
</body>
</html>
"""

    def markdown(self, figure_dir: str = "figures") -> str:
        out = [f"# {self.title}", ""]
        for section in self.all_sections():
            out.append(_section_markdown(section, "##", figure_dir))
        out.append(
            "Every number above is in `metrics.json`, read from "
            + ", ".join(f"`{name}`" for name in self.inputs)
            + "."
        )
        return "\n".join(out) + "\n"

    def write(self, out_dir: str | Path, stem: str = "rollout-report") -> list[Path]:
        """Write ``{stem}.html``, ``{stem}.md`` (figures in ``figures/``) and ``metrics.json``."""
        out_dir = Path(out_dir)
        out_dir.mkdir(parents=True, exist_ok=True)
        metrics = self.metrics()  # first: a clash fails before anything is written
        figures = out_dir / "figures"
        figures.mkdir(exist_ok=True)
        for section in self.all_sections():
            for block in section.blocks:
                if isinstance(block, Figure):
                    (figures / f"{block.name}.png").write_bytes(block.png)
        paths = [out_dir / f"{stem}.html", out_dir / f"{stem}.md", out_dir / "metrics.json"]
        paths[0].write_text(self.html(), encoding="utf-8")
        paths[1].write_text(self.markdown("figures"), encoding="utf-8")
        doc = {"report": f"{stem}.html", "inputs": self.inputs, "metrics": metrics}
        paths[2].write_text(json.dumps(doc, indent=1), encoding="utf-8")
        return paths


# -- HTML ------------------------------------------------------------------------------------
CSS = """
.wb-report { font-family: system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue",
  Arial, sans-serif; color: #1b1f24; line-height: 1.45; max-width: 1180px; margin: 0 auto;
  padding: 1.5rem 2rem 3rem; }
.wb-report h1 { font-size: 1.8rem; margin: 0 0 1rem; }
.wb-report h2 { font-size: 1.35rem; margin: 2.2rem 0 0.6rem; padding-top: 0.6rem;
  border-top: 2px solid #d0d7de; }
.wb-report h3 { font-size: 1.1rem; margin: 1.6rem 0 0.4rem; }
.wb-report section.summary { background: #f3f6f9; border: 1px solid #d0d7de;
  border-radius: 6px; padding: 0.2rem 1.2rem 0.8rem; }
.wb-report section.summary h2 { border-top: none; margin-top: 0.8rem; }
.wb-report table { border-collapse: collapse; margin: 0.6rem 0 0.2rem; font-size: 0.92rem; }
.wb-report th, .wb-report td { border: 1px solid #d0d7de; padding: 0.25rem 0.55rem;
  vertical-align: top; }
.wb-report th { background: #eef1f4; text-align: left; }
.wb-report tbody tr:nth-child(even) { background: #f8f9fa; }
.wb-report td.num { text-align: right; font-variant-numeric: tabular-nums;
  white-space: nowrap; }
.wb-report td.pass, .wb-report td.fail, .wb-report td.open { white-space: nowrap; }
.wb-report td.pass { color: #116329; font-weight: 600; }
.wb-report td.fail { color: #a40e26; font-weight: 600; }
.wb-report td.open { color: #6e7781; }
.wb-report p.source, .wb-report figcaption { color: #57606a; font-size: 0.82rem;
  margin: 0.1rem 0 1rem; }
.wb-report figure { margin: 1rem 0 1.6rem; }
.wb-report figure img { max-width: 100%; height: auto; border: 1px solid #eaeef2; }
.wb-report code { font-size: 0.88em; background: #eef1f4; padding: 0 0.25em;
  border-radius: 3px; }
.wb-report nav ol { columns: 2; }
.wb-report footer { margin-top: 2.5rem; color: #57606a; font-size: 0.85rem; }
"""


def _esc(text: str) -> str:
    return html.escape(text, quote=False)


def _attr(text: str) -> str:
    return html.escape(text, quote=True)


def _inline_html(text: Text) -> str:
    """Numbers as <data>; `backticked` spans as <code>; **starred** spans as <strong>, also
    when a number falls inside one."""
    out = []
    bold = False
    for part in parts(text):
        if isinstance(part, Num):
            html = f'<data value="{_attr("/".join(part.key))}">{_esc(part.text)}</data>'
            out.append(f"<strong>{html}</strong>" if bold else html)
        else:
            html, bold = _code_spans_html(part, bold)
            out.append(html)
    return "".join(out)


def _code_spans_html(text: str, bold: bool = False) -> tuple[str, bool]:
    """Escape ``text``; `backticked` spans become <code> (names, paths, specs) and **starred**
    ones <strong>, as in the Markdown rendering; ``bold``: a starred span is open (returned
    for the text that follows)."""
    out = []
    for i, piece in enumerate(text.split("`")):
        if i % 2:
            out.append(f"<code>{_esc(piece)}</code>")
            continue
        for j, p in enumerate(piece.split("**")):
            if j:
                bold = not bold
            if p:
                out.append(f"<strong>{_esc(p)}</strong>" if bold else _esc(p))
    return "".join(out), bold


_VERDICT_CLASS = {"PASS": "pass", "FAIL": "fail", "NOT RUN": "open"}


def _table_html(table: Table) -> str:
    right = table.aligned_right()
    head = "".join(f"<th>{_code_spans_html(c)[0]}</th>" for c in table.columns)
    rows = []
    for row in table.rows:
        cells = []
        for i, cell in enumerate(row):
            classes = []
            if right[i]:
                classes.append("num")
            verdict = _VERDICT_CLASS.get(plain(cell))
            if verdict:
                classes.append(verdict)
            attr = f' class="{" ".join(classes)}"' if classes else ""
            cells.append(f"<td{attr}>{_inline_html(cell)}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    caption = f"<caption>{_inline_html(table.caption)}</caption>" if plain(table.caption) else ""
    return (
        f"<table>{caption}<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"
        f'<p class="source">Numbers: {_code_spans_html(table.source)[0]}</p>'
    )


def _figure_html(figure: Figure) -> str:
    data = base64.b64encode(figure.png).decode("ascii")
    note = f" {_inline_html(figure.note)}" if plain(figure.note) else ""
    return (
        f'<figure id="fig-{_attr(figure.name)}"><img src="data:image/png;base64,{data}" '
        f'alt="{_attr(plain(figure.title))}">'
        f"<figcaption>{_inline_html(figure.title)}.{note} Data: "
        f"{_code_spans_html(figure.source)[0]}</figcaption></figure>"
    )


def _section_html(section: Section, level: int, css_class: str = "") -> str:
    out = [f"<h{level}>{_esc(section.title)}</h{level}>"]
    for block in section.blocks:
        if isinstance(block, Heading):
            out.append(f"<h{level + 1}>{_esc(block.text)}</h{level + 1}>")
        elif isinstance(block, Paragraph):
            out.append(f"<p>{_inline_html(block.text)}</p>")
        elif isinstance(block, Bullets):
            out.append("<ul>" + "".join(f"<li>{_inline_html(i)}</li>" for i in block.items))
            out[-1] += "</ul>"
        elif isinstance(block, Table):
            out.append(_table_html(block))
        else:
            out.append(_figure_html(block))
    cls = f' class="{css_class}"' if css_class else ""
    return f'<section id="{_attr(section.id)}"{cls}>{"".join(out)}</section>'


# -- Markdown --------------------------------------------------------------------------------
def _md_cell(text: Text) -> str:
    return plain(text).replace("|", "\\|").replace("\n", " ")


def _table_markdown(table: Table) -> str:
    right = table.aligned_right()
    lines = []
    if plain(table.caption):
        lines += [f"*{plain(table.caption)}*", ""]
    lines.append("| " + " | ".join(c.replace("|", "\\|") for c in table.columns) + " |")
    lines.append("| " + " | ".join("---:" if r else "---" for r in right) + " |")
    for row in table.rows:
        lines.append("| " + " | ".join(_md_cell(c) for c in row) + " |")
    lines += ["", f"Numbers: {table.source}"]
    return "\n".join(lines)


def _section_markdown(section: Section, heading: str, figure_dir: str | None) -> str:
    out = [f"{heading} {section.title}", ""]
    for block in section.blocks:
        if isinstance(block, Heading):
            out += [f"{heading}# {block.text}", ""]
        elif isinstance(block, Paragraph):
            out += [plain(block.text), ""]
        elif isinstance(block, Bullets):
            out += [f"- {plain(item)}" for item in block.items] + [""]
        elif isinstance(block, Table):
            out += [_table_markdown(block), ""]
        else:
            note = f" {plain(block.note)}" if plain(block.note) else ""
            if figure_dir is not None:
                out.append(f"![{plain(block.title)}]({figure_dir}/{block.name}.png)")
                out.append("")
            out += [f"*Figure: {plain(block.title)}.{note} Data: {block.source}*", ""]
    return "\n".join(out)


def markdown_table(table: Table) -> str:
    """One table as Markdown (what ``workbench replay`` prints)."""
    return _table_markdown(table)


def replay_table(result: dict[str, Any]) -> str:
    """What ``workbench replay`` prints: the per-run table, then the comparison table."""
    from workbench.study.tables import comparison_table, per_run_table

    name = Path(str(result.get("recording", "replay"))).name
    return (
        markdown_table(per_run_table(name, result))
        + "\n\n"
        + markdown_table(comparison_table(name, result))
    )
