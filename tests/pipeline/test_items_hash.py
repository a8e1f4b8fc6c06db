"""Properties of the hash normalisation and the canonical link (hypothesis)."""

from __future__ import annotations

import base64
import hashlib
import unicodedata
from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from pipeline.items import (
    ContentItem,
    canonical_url,
    content_hash,
    normalize_text,
    processing_key,
)

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


SAFE = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_."  # no escaping
TRACKING = ["utm_source", "UTM_Medium", "utm_x", "fbclid", "GCLID", "dclid", "mc_cid", "mc_eid",
            "igshid", "ref", "Ref_Src", "ref_url", "si"]  # fmt: skip
DROPPED_FRAGMENTS = ["", "#", "#comments", "#Respond", "#more-12", "#ixzz8Kq", "#:~:text=a",
                     "#xtor=RSS-3", "#utm_source=feed&utm_medium=rss"]  # fmt: skip


def _kept(key: str) -> bool:
    return not key.lower().startswith("utm_") and key.lower() not in {t.lower() for t in TRACKING}


@st.composite
def links(draw: st.DrawFn) -> tuple[str, str]:
    """A link with random case, port, path, query, tracking and fragment; its expected key."""
    scheme = draw(st.sampled_from(["http", "https"]))
    labels = draw(st.lists(st.text("abcdefghijklmnopqrstuvwxyz0123456789", min_size=1,
                                   max_size=6), min_size=1, max_size=3))  # fmt: skip
    host = ".".join([*labels, "example"])
    default = "80" if scheme == "http" else "443"
    port = draw(st.sampled_from(["", "80", "443", "8080"]))  # the other default is kept
    segments = draw(st.lists(st.text(SAFE, min_size=1, max_size=6), max_size=4))
    path = "".join(f"/{s}" for s in segments) + draw(st.sampled_from(["", "/"]))
    pairs = draw(st.lists(st.tuples(st.text(SAFE, min_size=1, max_size=5).filter(_kept),
                                    st.text(SAFE, max_size=5)), max_size=4))  # fmt: skip
    query = list(pairs)
    for tracker in draw(st.lists(st.sampled_from(TRACKING), max_size=3)):
        query.insert(draw(st.integers(0, len(query))), (tracker, draw(st.text(SAFE, max_size=4))))
    fragment = draw(st.one_of(st.sampled_from(DROPPED_FRAGMENTS),
                              st.text("0123456789", min_size=1, max_size=4).map("#a{}".format)))  # fmt: skip
    cased = "".join(c.upper() if draw(st.booleans()) else c for c in f"{scheme}://{host}")
    link = cased + (f":{port}" if port else "") + path
    link += ("?" + "&".join(f"{k}={v}" for k, v in query) if query else "") + fragment
    key = f"{scheme}://{host}" + (f":{port}" if port not in ("", default) else "")
    key += (path or "/") + ("?" + "&".join(f"{k}={v}" for k, v in pairs) if pairs else "")
    key += fragment if fragment.startswith("#a") else ""
    return link, key


@given(links())
def test_canonical_url_of_any_link(case: tuple[str, str]) -> None:
    link, key = case
    assert canonical_url(link) == key


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


def _item(title: str = "A title", body: str = "", **kwargs: object) -> ContentItem:
    fields = dict(source="rss", source_name="feed", source_id="guid-1", url="https://a.example/p",
                  title=title, body=body, author="me",
                  published_at=datetime(2026, 11, 29, 9, 30, tzinfo=timezone(timedelta(hours=2))),
                  collected_at=datetime(2026, 11, 29, 8, 0), metadata={"score": 3})  # fmt: skip
    return ContentItem.create(**{**fields, **kwargs})  # type: ignore[arg-type]


def test_an_item_round_trips_through_its_dict() -> None:
    item = _item()
    data = item.to_dict()
    assert data == {
        "source": "rss", "source_name": "feed", "source_id": "guid-1",
        "url": "https://a.example/p", "title": "A title", "body": "", "author": "me",
        "published_at": "2026-11-29T07:30:00+00:00", "collected_at": "2026-11-29T08:00:00+00:00",
        "content_hash": content_hash("A title", ""), "metadata": {"score": 3},
    }  # fmt: skip
    assert data["metadata"] is not item.metadata  # a copy: the line can be changed safely
    assert ContentItem.from_dict(data) == item
    assert ContentItem.from_dict({**data, "mode": "batch", "claim_check": None}) == item
    naive = {
        **data,
        "published_at": "2026-11-29T07:30:00",
        "collected_at": "2026-11-29T10:00:00+02:00",
    }
    back = ContentItem.from_dict(naive)
    assert back.published_at == item.published_at and back.collected_at == item.collected_at
    assert back.published_at.tzinfo is UTC and back.collected_at.tzinfo is UTC
    without = dict(data)
    del without["metadata"]
    assert ContentItem.from_dict(without).metadata == {}


def test_the_processing_key_is_the_text_or_the_post() -> None:
    long = "one two three four five six seven eight nine ten eleven twelve"
    assert processing_key(
        content_hash(long, ""), long, "", "rss", "g", "https://a.example/"
    ) == content_hash(long, "")
    # Title and body count together: six words each make a key.
    title, body = "one two three four five six", "seven eight nine ten eleven twelve"
    assert processing_key("h" * 64, title, body, "rss", "g", "") == "h" * 64
    digest = hashlib.sha256(b"reddit\nt3_abc").hexdigest()
    assert processing_key("h" * 64, "How?", "", "reddit", "t3_abc", "") == f"id-{digest}"
    assert processing_key("h" * 64, title, "", "reddit", "t3_abc", "") == f"id-{digest}"
    link = hashlib.sha256(b"https://a.example/p").hexdigest()
    assert processing_key("h" * 64, "How?", "", "reddit", "t3_abc", "https://A.example/p#") == (
        f"url-{link}"
    )


@given(
    title=st.lists(st.sampled_from(["one", "two", "Three", "four"]), max_size=14).map(" ".join),
    body=st.sampled_from(["", "five six", "a b c d e f g h i j k l m"]),
    source=st.sampled_from(["reddit", "rss", "mastodon"]),
    url=st.sampled_from(
        [
            "",
            "https://A.example/p?utm_source=x",
            "https://b.example/#comments",
            "https://c.example/day.html#a1",
        ]
    ),  # fmt: skip
    source_id=st.sampled_from(["guid-1", "https://c.example/day.html"]),
)
def test_the_item_reads_its_processing_key_off_its_dedup_keys(
    title: str, body: str, source: str, url: str, source_id: str
) -> None:
    """The item's method (read off the dedup keys a run computes once) and the function the
    processor applies to a message agree on every kind of item."""
    item = _item(title=title, body=body, source=source, url=url, source_id=source_id)
    expected = processing_key(item.content_hash, title, body, source, source_id, url)
    assert item.processing_key() == expected


def test_a_short_posts_key_judges_its_links_fragment_with_its_own_id() -> None:
    """The fragment of a day page's item tells items apart, unless the item's id is the page."""
    day = "https://c.example/day.html"
    apart = processing_key("h" * 64, "Hi", "", "rss", "guid-1", f"{day}#a1")
    same = processing_key("h" * 64, "Hi", "", "rss", day, f"{day}#a1")
    assert apart == "url-" + hashlib.sha256(f"{day}#a1".encode()).hexdigest()
    assert same == "url-" + hashlib.sha256(day.encode()).hexdigest()


def test_a_collected_copy_keeps_the_item_and_its_keys() -> None:
    item = _item()
    keys = item.dedup_keys()
    at = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
    copy = item.collected(at)
    assert copy.collected_at == at and item.collected_at != at
    assert copy.to_dict() == {**item.to_dict(), "collected_at": "2026-11-30T12:00:00+00:00"}
    assert copy.dedup_keys() is keys  # carried over, not worked out again
    assert _item().collected(at).dedup_keys() == keys  # the same keys when worked out
    digests = item.key_digests()
    assert item.collected(at).key_digests() is digests


def test_an_items_key_digests_are_its_keys_digested_in_order() -> None:
    item = _item("A title long enough to be a text key of its own", "and a body of words")
    keys = item.dedup_keys()
    assert len(keys) == 3
    expected = tuple(
        base64.urlsafe_b64encode(hashlib.sha256(k.encode()).digest()[:12]) for k in keys
    )
    assert item.key_digests() == expected
    assert item.key_digests() is item.key_digests()  # worked out once
