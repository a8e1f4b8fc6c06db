"""Queue message v1: one schema for both modes, the size limit and the claim check."""

from __future__ import annotations

import json
import os
import uuid
from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pipeline.items import ContentItem
from pipeline.messages import (
    MAX_COLLECTION_LINE_BYTES,
    build_message,
    claim_blob_name,
    collection_blob_name,
    collection_line,
    encode_collection_line,
    encode_item,
    encode_message,
    item_line,
    item_message,
    line_needs_claim_check,
    message_frame,
    needs_claim_check,
    new_message_id,
    validate_message,
)
from pipeline.storage import MAX_MESSAGE_BYTES, QueueAdapter


def _item(body: str = "Some body text.") -> ContentItem:
    return ContentItem.create(
        source="reddit",
        source_name="reddit-python",
        source_id="t3_abc",
        url="https://example.org/post?utm_source=x",
        title="A title long enough",
        body=body,
        author="someone",
        published_at=datetime(2026, 11, 29, 7, 59, tzinfo=UTC),
        collected_at=datetime(2026, 11, 29, 8, 0, 1, tzinfo=UTC),
        metadata={"score": 12},
    )


@pytest.mark.parametrize("mode", ["batch", "streaming"])
def test_both_modes_build_valid_messages_with_the_same_fields(mode: str):
    blob = collection_blob_name("c1", "2026-11-29T08:00:00+00:00")
    other_mode = "streaming" if mode == "batch" else "batch"
    message = build_message(_item(), collection_id="c1", collection_blob=blob, mode=mode)
    validate_message(message)
    other = build_message(
        _item(), collection_id="c1", collection_blob=blob, mode=other_mode, message_id=message["id"]
    )
    validate_message(other)
    assert (message["mode"], other["mode"]) == (mode, other_mode)
    assert set(message) == set(other)
    assert {k: v for k, v in message.items() if k != "mode"} == {
        k: v for k, v in other.items() if k != "mode"
    }


def test_collection_blob_layout_sorts_by_time():
    assert (
        collection_blob_name("abc", "2026-11-29T16:00:00+00:00")
        == "collections/2026/11/29/160000-abc.jsonl"
    )


def test_invalid_message_names_the_field():
    message = build_message(_item(), collection_id="c", collection_blob="b", mode="batch")
    message["content_hash"] = "nothex"
    with pytest.raises(ValueError, match="content_hash"):
        validate_message(message)
    del message["content_hash"]
    with pytest.raises(ValueError, match="content_hash"):
        validate_message(message)


def test_large_item_needs_a_claim_check_and_the_cut_message_fits():
    big = _item(body="word " * 20_000)
    full = build_message(big, collection_id="c", collection_blob="b", mode="streaming")
    assert needs_claim_check(full)
    cut = build_message(
        big,
        collection_id="c",
        collection_blob="b",
        mode="streaming",
        claim_check="collected-content/" + claim_blob_name("c", big.content_hash),
    )
    validate_message(cut)
    assert cut["body_truncated"] is True
    assert QueueAdapter.encoded_size(encode_message(cut)) < MAX_MESSAGE_BYTES
    assert not needs_claim_check(cut)
    assert not needs_claim_check(
        build_message(_item(), collection_id="c", collection_blob="b", mode="batch")
    )


def test_a_message_is_cut_only_past_2000_characters_with_a_claim_check():
    exact, over = _item(body="b" * 2000), _item(body="b" * 2001)
    for item in (exact, over):
        full = build_message(item, collection_id="c", collection_blob="b", mode="batch")
        assert full["body"] == item.body and full["body_truncated"] is False
        assert full["claim_check"] is None
    kept = build_message(exact, collection_id="c", collection_blob="b", mode="batch",
                         claim_check="x/claims/c/h.json")  # fmt: skip
    assert kept["body"] == exact.body and kept["body_truncated"] is False
    cut = build_message(over, collection_id="c", collection_blob="b", mode="batch",
                        claim_check="x/claims/c/h.json")  # fmt: skip
    assert cut["body"] == "b" * 2000 and cut["body_truncated"] is True
    assert cut["claim_check"] == "x/claims/c/h.json"


def test_encoding_is_compact_utf8_json():
    when = datetime(2026, 11, 29, 8, 0, tzinfo=UTC)
    assert encode_message({"a": 1, "b": "é ü", "t": when}) == (
        '{"a":1,"b":"é ü","t":"2026-11-29 08:00:00+00:00"}'
    )


def test_a_message_id_is_a_random_uuid4_in_hex():
    ids = [new_message_id() for _ in range(2_000)]
    assert len(set(ids)) == len(ids)
    for value in ids:
        parsed = uuid.UUID(hex=value)
        assert parsed.hex == value and len(value) == 32
        assert parsed.version == 4 and parsed.variant == uuid.RFC_4122
    # Every other bit is random: each of the 122 free bits is set in some id and clear in another.
    fixed = (0xF000 << 64) | (0xC000 << 48)
    seen_set = seen_clear = 0
    for value in ids:
        n = int(value, 16)
        seen_set |= n
        seen_clear |= ~n
    assert seen_set & seen_clear & ((1 << 128) - 1) == ((1 << 128) - 1) & ~fixed


def test_the_claim_check_limit_is_48_kib_of_utf8():
    assert not needs_claim_check("x" * 49_152)
    assert needs_claim_check("x" * 49_153)
    assert needs_claim_check("é" * 24_577)  # 49,154 bytes in 24,577 characters
    assert not needs_claim_check("é" * 24_576)


def test_a_collection_line_is_the_item_or_its_claimed_preview():
    item = _item(body="w" * 2001)
    assert collection_line(item) == item.to_dict()
    line = collection_line(item, "collected/claims/c/h.json")
    assert line == {**item.to_dict(), "body": "w" * 2000, "body_truncated": True,
                    "claim_check": "collected/claims/c/h.json"}  # fmt: skip
    short = _item(body="w" * 2000)
    assert collection_line(short, "r")["body_truncated"] is False
    long_title = ContentItem.create(
        source="rss", source_name="f", source_id="g", url="https://a.example/", title="t" * 2500,
        body="", author="", published_at=datetime(2026, 11, 29, tzinfo=UTC),
    )  # fmt: skip
    assert collection_line(long_title, "r")["title"] == "t" * 2000


def _line_bytes(item: ContentItem) -> int:
    """The line as the collector writes it: compact UTF-8 JSON and a newline."""
    text = json.dumps(item.to_dict(), separators=(",", ":"), ensure_ascii=False, default=str)
    return len(text.encode()) + 1


def _line(item: ContentItem) -> bytes:
    return encode_collection_line(collection_line(item))


def test_a_line_needs_a_claim_check_past_one_append_block():
    base = _item(body="")
    room = MAX_COLLECTION_LINE_BYTES - _line_bytes(base)
    fits, over = _item(body="a" * room), _item(body="a" * (room + 1))
    assert _line_bytes(fits) == MAX_COLLECTION_LINE_BYTES
    assert not line_needs_claim_check(_line(fits)) and line_needs_claim_check(_line(over))
    # Metadata that is not JSON (a time) is written as text, as the store does.
    dated = ContentItem.create(
        source="rss", source_name="f", source_id="g", url="", title="t", body="", author="",
        published_at=datetime(2026, 11, 29, tzinfo=UTC), metadata={"seen": datetime(2026, 1, 1)},
    )  # fmt: skip
    assert not line_needs_claim_check(_line(dated))
    # Counted in UTF-8 bytes, not characters: "é" takes two.
    accented = _item(body="é" * (room // 2 + 1))
    assert len(accented.body) < room and line_needs_claim_check(_line(accented))
    assert not line_needs_claim_check(_line(_item(body="é" * (room // 2))))


def test_validation_names_the_message_when_a_field_is_missing():
    message = build_message(_item(), collection_id="c", collection_blob="b", mode="batch")
    del message["mode"]
    with pytest.raises(ValueError) as info:
        validate_message(message)
    assert str(info.value) == (
        "invalid content-item/v1 message at (message): 'mode' is a required property"
    )
    with pytest.raises(ValueError) as typed:
        validate_message({**message, "mode": "batch", "metadata": 5})
    assert (
        str(typed.value) == "invalid content-item/v1 message at metadata: 5 is not of type 'object'"
    )


def test_an_encoded_line_is_compact_utf8_json_of_the_item():
    item = ContentItem.create(
        source="rss", source_name="f", source_id="g", url="", title="café", body="b", author="",
        published_at=datetime(2026, 11, 29, tzinfo=UTC), metadata={"seen": datetime(2026, 1, 1)},
    )  # fmt: skip
    line = encode_collection_line(collection_line(item))
    assert (
        line
        == (
            json.dumps(item.to_dict(), separators=(",", ":"), ensure_ascii=False, default=str)
            + "\n"
        ).encode()
    )
    assert "café".encode() in line and line.endswith(b"}\n") and line.count(b"\n") == 1
    assert len(line) == _line_bytes(item)
    assert item_line(encode_item(item)) == line  # the collector's path: the item encoded once


_TEXTS = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)


@given(title=_TEXTS, body=_TEXTS, author=_TEXTS, meta=st.dictionaries(_TEXTS, _TEXTS, max_size=3))
@settings(max_examples=200, deadline=None)
def test_a_message_from_the_encoded_item_is_the_built_message(
    title: str, body: str, author: str, meta: dict[str, str]
):
    """The collector encodes an item once and frames it as its message: the same JSON object
    ``build_message`` gives, whatever the text (quotes, backslashes, controls, U+2028...)."""
    item = ContentItem.create(
        source="rss", source_name='f"\\', source_id="g\u2028", url="https://a.example/?q=\"x\"",
        title=title, body=body, author=author, published_at=datetime(2026, 11, 29, tzinfo=UTC),
        metadata={**meta, "seen": datetime(2026, 1, 1), "n": [1, {"k": None}]},
    )  # fmt: skip
    for mode in ("batch", "streaming"):
        frame = message_frame(collection_id="c-1", collection_blob='b/"x".jsonl', mode=mode)
        message_id = new_message_id()
        text = item_message(encode_item(item), message_id, frame)
        built = build_message(
            item, collection_id="c-1", collection_blob='b/"x".jsonl', mode=mode,
            message_id=message_id,
        )  # fmt: skip
        assert json.loads(text) == json.loads(encode_message(built))
        assert len(text.encode()) == len(encode_message(built).encode())  # same size, same limit
        validate_message(json.loads(text))
    assert json.loads(item_line(encode_item(item))) == json.loads(_line(item))


def test_a_framed_message_takes_only_a_hex_id():
    frame = message_frame(collection_id="c", collection_blob="b", mode="batch")
    with pytest.raises(ValueError, match="hex digits"):
        item_message(encode_item(_item()), 'x","id":"y', frame)


def test_a_forked_process_does_not_repeat_its_parents_message_ids():
    new_message_id()  # the parent now holds random numbers not handed out yet
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, then out at once
        os.write(write, "".join(new_message_id() for _ in range(8)).encode())
        os._exit(0)
    os.close(write)
    os.waitpid(pid, 0)
    with os.fdopen(read) as pipe:
        child = pipe.read()
    parent = "".join(new_message_id() for _ in range(8))
    assert len(child) == len(parent) == 8 * 32
    assert not {child[i : i + 32] for i in range(0, len(child), 32)} & {
        parent[i : i + 32] for i in range(0, len(parent), 32)
    }
