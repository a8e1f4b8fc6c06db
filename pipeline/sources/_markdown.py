"""Reddit's Markdown (a post's ``selftext``) as plain text.

The text is what a reader sees: emphasis, links, lists and quotes lose their markup (a link
keeps its text), code keeps its characters, table cells become lines, and character
references become characters (the editor writes an empty paragraph as ``&#x200B;``, and
``&mdash;``, ``&nbsp;``, ``&#37;`` as typed). Rendered by mistune (CommonMark, with the
strikethrough and table extensions Reddit has) with raw HTML off, as Reddit shows HTML the
way it was typed; then made text by ``html_to_text``. Reddit's inline spoilers
(``>!text!<``) keep their text. Zero-width spaces are dropped: they only hold empty
paragraphs open.

A text longer than ``MAX_MARKDOWN_CHARS`` (Reddit caps a post at 40,000 characters) is not
parsed: only its character references are decoded.
"""

from __future__ import annotations

import html
import re

import mistune

from pipeline.sources._text import html_to_text

MAX_MARKDOWN_CHARS = 100_000
_SPOILER = re.compile(r">!([^\n]+?)!<")
# Complete references only: html.unescape alone would also read "&para" in "?a=1&param=2".
_REFERENCE = re.compile(r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});")
_ZERO_WIDTH_SPACE = "\u200b"


def _markdown_parser() -> mistune.Markdown:
    parser = mistune.create_markdown(escape=False, plugins=["strikethrough", "table"])
    parser.block.rules.remove("raw_html")
    parser.inline.rules.remove("inline_html")
    return parser


_PARSER = _markdown_parser()


def decode_references(text: str) -> str:
    """Plain text with its character references (``&amp;``, ``&#x200B;``, ...) decoded; an
    ``&`` that starts no complete reference stays as it is."""
    return _REFERENCE.sub(lambda m: html.unescape(m[0]), text)


def markdown_to_text(markdown: str) -> str:
    """The plain text of a Markdown document (see the module docstring)."""
    if not markdown.strip():
        return ""
    if len(markdown) > MAX_MARKDOWN_CHARS:
        rendered = html.escape(decode_references(markdown), quote=False)
    else:
        rendered = str(_PARSER(_SPOILER.sub(r"\1", markdown)))
    return html_to_text(rendered.replace(_ZERO_WIDTH_SPACE, ""))
