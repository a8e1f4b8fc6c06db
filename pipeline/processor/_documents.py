"""What the processor reads and writes: the message it decodes, the result document
(``<results>/<processing key>.json``) and the poison queue's envelope. Pure functions, no I/O."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime
from typing import Any

from pipeline.items import processing_key
from pipeline.messages import CLAIMS_PREFIX, validate_message
from pipeline.storage import ReceivedMessage

RESULT_SCHEMA = "processed-content/v1"
POISON_SCHEMA = "poison-message/v1"
_POISON_BLOBS_PREFIX = "poison/"


class InvalidClaimError(ValueError):
    """A claim check that points nowhere useful: the message goes to the poison queue."""


def result_blob_name(key: str) -> str:
    """The result of the item with processing key ``key`` (``message_processing_key``)."""
    return f"{key}.json"


def message_processing_key(data: dict[str, Any]) -> str:
    """The key a v1 message is processed once by (``pipeline.items.processing_key``): its
    content hash, or for a text too short to identify a post, its link or its source and id. A cut
    body of a long item still identifies it, so the cut does not change the key."""
    return processing_key(
        str(data["content_hash"]),
        str(data.get("title") or ""),
        str(data.get("body") or ""),
        str(data.get("source") or ""),
        str(data.get("source_id") or ""),
        str(data.get("url") or ""),
    )


def poison_blob_name(queue_name: str, queue_message_id: str) -> str:
    """Where a poisoned message's raw content goes when it does not fit in the envelope."""
    return f"{_POISON_BLOBS_PREFIX}{queue_name}/{queue_message_id}.txt"


def decode(message: ReceivedMessage) -> dict[str, Any]:
    """The message's JSON object; ``ValueError`` saying why when it is not one."""
    if message.content is None:
        raise ValueError(message.content_error or "message has no text content")
    try:
        data = json.loads(message.content)
    except ValueError as exc:
        raise ValueError(f"message is not valid JSON: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"message is not a JSON object (a {type(data).__name__})")
    return data


def try_decode(message: ReceivedMessage) -> dict[str, Any] | None:
    try:
        return decode(message)
    except ValueError:
        return None


def warm_up_validation() -> None:
    """Run one validation, so that its imports happen now rather than on the first message."""
    with contextlib.suppress(ValueError):
        validate_message({})


def claim_reference(data: dict[str, Any], claims_container: str) -> tuple[str, str]:
    """``(container, blob)`` of the message's claim check (``<container>/<blob>``): a blob
    under ``claims/`` in ``claims_container``, where the collector writes them. A message
    must not make the processor read any blob of the account."""
    ref = str(data["claim_check"])
    container, sep, blob = ref.partition("/")
    if not sep or not container or not blob:
        raise InvalidClaimError(f"claim_check {ref!r} is not '<container>/<blob>'")
    if container != claims_container:
        raise InvalidClaimError(
            f"claim_check {ref!r} is not in the claims container {claims_container!r}"
        )
    if not blob.startswith(CLAIMS_PREFIX):
        raise InvalidClaimError(f"claim_check {ref!r} is not under {CLAIMS_PREFIX!r}")
    return container, blob


def claimed_item(data: dict[str, Any], content: bytes | None, max_bytes: int) -> dict[str, Any]:
    """The whole item behind a claim check (the blob's ``content``, read with ``max_bytes``
    as cap) over the message. ``InvalidClaimError`` says exactly what is wrong with it."""
    ref = str(data["claim_check"])
    if content is None:
        raise InvalidClaimError(f"claim_check blob {ref!r} not found")
    if len(content) > max_bytes:
        raise InvalidClaimError(f"claim_check blob {ref!r} is over the {max_bytes}-byte cap")
    try:
        claimed = json.loads(content.decode("utf-8"))
    except UnicodeDecodeError as exc:
        raise InvalidClaimError(
            f"claim_check blob {ref!r} is not UTF-8 text (byte offset {exc.start})"
        ) from None
    except ValueError as exc:
        raise InvalidClaimError(f"claim_check blob {ref!r} is not valid JSON: {exc}") from None
    if not isinstance(claimed, dict):
        raise InvalidClaimError(f"claim_check blob {ref!r} does not hold a JSON object")
    if claimed.get("content_hash") != data["content_hash"]:
        raise InvalidClaimError(
            f"claim_check blob {ref!r} holds another item (content_hash "
            f"{str(claimed.get('content_hash'))[:16]!r}..., the message's is "
            f"{data['content_hash'][:16]!r}...)"
        )
    return {**data, **claimed, "body_truncated": False}


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def result_document(
    data: dict[str, Any],
    item: dict[str, Any],
    article: dict[str, Any],
    message: ReceivedMessage,
    *,
    worker: str,
    started_at_s: float,
    finished_at_s: float,
    work_s: float,
) -> dict[str, Any]:
    """The result of processing the v1 message ``data`` (``item``: the whole item behind it)."""
    return {
        "schema": RESULT_SCHEMA,
        "item_id": data["id"],
        "content_hash": data["content_hash"],
        "source": data["source"],
        "source_name": data.get("source_name"),
        "source_id": data["source_id"],
        "url": data["url"],
        "author": item.get("author"),
        "published_at": data["published_at"],
        "collected_at": data["collected_at"],
        "collection_id": data["collection_id"],
        "collection_blob": data["collection_blob"],
        "mode": data["mode"],
        "queue_message_id": message.id,
        "dequeue_count": message.dequeue_count,
        "queued_at": _iso(message.inserted_on),
        "processed_at": datetime.now(UTC).isoformat(),
        "processed_by": worker,
        "started_at_s": started_at_s,
        "finished_at_s": finished_at_s,
        "work_s": work_s,
        "article": article,
    }


def poison_envelope(
    message: ReceivedMessage, *, reason: str, source_queue: str, worker: str
) -> dict[str, Any]:
    """The poison queue's message for ``message``: its raw content, kept, with the reason."""
    return {
        "schema": POISON_SCHEMA,
        "reason": reason,
        "source_queue": source_queue,
        "queue_message_id": message.id,
        "dequeue_count": message.dequeue_count,
        "inserted_on": _iso(message.inserted_on),
        "poisoned_at": datetime.now(UTC).isoformat(),
        "poisoned_by": worker,
        "raw_content": message.raw_content,
        "raw_blob": None,
    }
