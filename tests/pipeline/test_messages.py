"""Queue message v1: one schema for both modes, the size limit and the claim check."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from pipeline.items import ContentItem
from pipeline.messages import (
    build_message,
    claim_blob_name,
    collection_blob_name,
    encode_message,
    needs_claim_check,
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
