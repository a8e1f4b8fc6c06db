"""The processor's real light work: the item-to-article transform (pure, no I/O)."""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from typing import Any

_WORDS_PER_MINUTE = 230
_SUMMARY_SENTENCES = 2
_SUMMARY_MAX_CHARS = 300
_KEYWORDS = 8
_URL_RE = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_SPACE_RE = re.compile(r"\s+")
_SENTENCE_END_RE = re.compile(r"(?<=[.!?…])\s+|(?<=[。！？])")
# Ideographs and kana count one word each (those scripts do not separate words by spaces).
_TOKEN_RE = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\W_]+(?:['’][^\W_]+)*"
)
# A compact multilingual list (en, de, fr, es, it, pt, nl): no language detection needed.
_STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are aren't as at be because been
    before being below between both but by can could did do does doing down during each few for
    from further had has have having he her here hers herself him himself his how i if in into
    is it it's its itself just let's me more most my myself no nor not now of off on once only
    or other our ours ourselves out over own same she should so some such than that that's the
    their theirs them themselves then there these they this those through to too under until up
    us very was we were what when where which while who whom why will with would you your yours
    yourself yourselves new one two get got like via use using used i'm you're we're they're
    don't doesn't didn't can't won't isn't
    der die das und ist nicht ein eine einen einem einer mit von zu den dem des auf für sich
    auch als wie bei oder aber wenn nur noch nach aus wir ihr sie er es ich du im am zum zur
    le la les un une des du de et est dans pour par sur pas plus que qui ne se ce cette ces avec
    au aux ou mais son sa ses leur nous vous ils elles été être
    el los las una unos unas y en por con para es lo al del se su sus como más pero sin sobre
    il lo gli di che non per con una nel della delle dei sono
    o os um uma em no na nos nas do da dos das com não mais seu sua
    het een en van ik je dat niet zijn op te met voor aan er maar om ook als dan bij
    """.split()
)


def clean_text(text: str) -> str:
    """NFKC, HTML entities decoded, control characters dropped, whitespace collapsed."""
    text = unicodedata.normalize("NFKC", html.unescape(text or ""))
    text = "".join(ch if ch.isspace() or unicodedata.category(ch)[0] != "C" else " " for ch in text)
    return _SPACE_RE.sub(" ", text).strip()


def _sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE_END_RE.split(text) if s and s.strip()]


def _summary(sentences: list[str]) -> str:
    summary = " ".join(sentences[:_SUMMARY_SENTENCES])
    if len(summary) <= _SUMMARY_MAX_CHARS:
        return summary
    cut = summary[: _SUMMARY_MAX_CHARS - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:") + "…"


def _keywords(tokens: Iterable[str]) -> list[str]:
    counts = Counter(
        t
        for t in tokens
        if len(t) >= 3 and not t.isdigit() and t not in _STOP_WORDS and "'" not in t
    )
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return [word for word, _ in ranked[:_KEYWORDS]]


def transform(message: dict[str, Any]) -> dict[str, Any]:
    """The article for one item (a v1 message, or the whole item of a claim check).

    Deterministic and language-agnostic: cleaned title and body, word and sentence counts,
    reading time, a summary from the first sentences, keywords by frequency without stop words.
    """
    title = clean_text(str(message.get("title") or ""))
    body = clean_text(str(message.get("body") or ""))
    prose = _SPACE_RE.sub(" ", _URL_RE.sub(" ", body)).strip()
    tokens = [t.casefold().replace("’", "'") for t in _TOKEN_RE.findall(prose)]
    title_tokens = [t.casefold().replace("’", "'") for t in _TOKEN_RE.findall(title)]
    sentences = _sentences(prose)
    word_count = len(tokens)
    return {
        "title": title,
        "summary": _summary(sentences) if sentences else title,
        "body": body,
        "word_count": word_count,
        "sentence_count": len(sentences),
        "reading_time_s": math.ceil(word_count * 60 / _WORDS_PER_MINUTE),
        "keywords": _keywords(title_tokens + tokens),
        "links": sorted(set(_URL_RE.findall(body))),
    }
