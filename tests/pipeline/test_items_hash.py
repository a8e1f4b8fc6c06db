"""Properties of the hash normalisation and the canonical link (hypothesis)."""

from __future__ import annotations

import unicodedata
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from pipeline.items import ContentItem, canonical_url, content_hash, normalize_text

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=80)
words = st.lists(st.text("abcdefghijklmnopqrstuvwxyzäöüß0123456789", min_size=1, max_size=8),
                 min_size=1, max_size=8)  # fmt: skip
spaces = st.sampled_from([" ", "  ", "\t", "\n", " \r\n ", "\u00a0", "\u2003"])


@given(words, st.lists(spaces, min_size=8, max_size=8))
def test_whitespace_does_not_change_the_hash(ws: list[str], gaps: list[str]) -> None:
    spaced = gaps[0] + "".join(w + gaps[i % len(gaps)] for i, w in enumerate(ws))
    assert content_hash(spaced, "") == content_hash(" ".join(ws), "")


@given(words)
def test_case_of_plain_words(ws: list[str]) -> None:
    title = " ".join(ws)
    assert content_hash(title.upper(), "x") == content_hash(title, "X")


@given(text, text)
def test_nfkc_forms_hash_alike(title: str, body: str) -> None:
    for form in ("NFC", "NFD", "NFKD"):
        assert content_hash(unicodedata.normalize(form, title), body) == content_hash(
            unicodedata.normalize("NFKC", title), body
        )


def test_compatibility_characters() -> None:
    assert content_hash("ﬁle ＡＢＣ", "") == content_hash("file abc", "")


@given(words, st.sampled_from(["https://a.example/x?y=1", "http://b.example", "www.c.example/p"]))
def test_urls_in_text_do_not_count(ws: list[str], url: str) -> None:
    plain = " ".join(ws)
    assert content_hash(plain + " " + url, "") == content_hash(plain, "")


def test_title_and_body_do_not_run_together() -> None:
    assert content_hash("ab", "c") != content_hash("a", "bc")


@given(text)
def test_normalize_is_idempotent(value: str) -> None:
    once = normalize_text(value)
    assert normalize_text(once) == once


hosts = st.sampled_from(["Example.COM", "example.com", "EXAMPLE.com"])
tracking = st.dictionaries(
    st.sampled_from(["utm_source", "utm_medium", "UTM_Campaign", "fbclid", "gclid", "ref"]),
    st.text("abc123", min_size=1, max_size=5),
    max_size=4,
)


in_page = st.sampled_from(["", "#", "#top", "#comments", "#more-7", "#xtor=RSS-3"])


@given(hosts, tracking, in_page, st.sampled_from(["http", "HTTPS"]))
def test_canonical_url_drops_tracking_case_and_in_page_fragment(
    host: str, params: dict[str, str], fragment: str, scheme: str
) -> None:
    query = "&".join(["id=7", *(f"{k}={v}" for k, v in params.items())])
    url = f"{scheme}://{host}/Path/To?{query}{fragment}"
    assert canonical_url(url) == f"{scheme.lower()}://example.com/Path/To?id=7"


def test_canonical_url_default_ports_and_empty_path() -> None:
    assert canonical_url("https://example.com:443") == "https://example.com/"
    assert canonical_url("http://example.com:8080/a") == "http://example.com:8080/a"
    assert canonical_url("") == ""


def _short(source: str, source_id: str, url: str, title: str = "Show: a tiny tool") -> ContentItem:
    return ContentItem.create(
        source=source,  # type: ignore[arg-type]
        source_name=f"{source}-x",
        source_id=source_id,
        url=url,
        title=title,
        body="",
        author="",
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )


def test_processing_key_follows_the_dedup_keys() -> None:
    """The key the processor is idempotent by: long text -> its hash (whatever the id); short
    text -> the story it links to (one story on Reddit and in a feed is one item, whichever copy
    the run's order queued); no link -> the post itself."""
    reddit = _short("reddit", "t3_a", "https://blog.example/tool?utm_source=reddit")
    feed = _short("rss", "https://blog.example/tool", "https://BLOG.example/tool")
    other = _short("reddit", "t3_b", "https://elsewhere.example/")
    assert reddit.processing_key() == feed.processing_key() != other.processing_key()
    assert reddit.processing_key().startswith("url-")
    no_link = _short("mastodon", "https://m.example/s/1", "")
    assert no_link.processing_key().startswith("id-")
    assert (
        no_link.processing_key() != _short("mastodon", "https://m.example/s/2", "").processing_key()
    )
    long_title = "A long title with more than twelve words so that its text identifies the post"
    one, two = (
        _short("reddit", "t3_c", "https://a.example/", long_title),
        _short("rss", "x", "https://b.example/", long_title),
    )
    assert one.processing_key() == two.processing_key() == one.content_hash
