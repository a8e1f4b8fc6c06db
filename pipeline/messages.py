"""Queue message v1 (docs/contracts.md): one JSON object per item, base64 on the wire.

Batch and streaming build messages with the same function, so the processor cannot tell them
apart; ``content-item-v1.schema.json`` (next to this file) validates both. An item whose
message would pass the queue's 64 KiB limit goes through a claim check: the whole item is
written to a blob and the message carries the blob's name and a cut body. The same holds for an
item's line in the collection blob when it would pass the 4 MiB append-block limit
(``collection_line``).
"""

from __future__ import annotations

import json
import os
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

from pipeline.items import ContentItem
from pipeline.storage import MAX_APPEND_BLOCK_BYTES

__all__ = [
    "COLLECTIONS_PREFIX",
    "CLAIMS_PREFIX",
    "SCHEMA_ID",
    "MAX_COLLECTION_LINE_BYTES",
    "build_message",
    "claim_blob_name",
    "collection_blob_name",
    "collection_line",
    "encode_collection_line",
    "encode_item",
    "encode_message",
    "item_line",
    "item_message",
    "line_needs_claim_check",
    "message_frame",
    "message_schema",
    "new_message_id",
    "validate_message",
]

SCHEMA_ID = "content-item/v1"
COLLECTIONS_PREFIX = "collections/"
CLAIMS_PREFIX = "claims/"
# Compact UTF-8 JSON, values JSON does not know as text. Built once: ``json.dumps`` with
# options builds an encoder on every call.
_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, default=str)
_HEX_ID = re.compile(r"[0-9a-f]+")
# Room left for the other fields and base64's 4/3 growth: 64 KiB encoded is 48 KiB raw.
_MAX_RAW_MESSAGE_BYTES = 49_152
_CUT_BODY_CHARS = 2_000
# One collection-blob line must fit in one append block.
MAX_COLLECTION_LINE_BYTES = MAX_APPEND_BLOCK_BYTES


def collection_line(item: ContentItem, claim_check: str | None = None) -> dict[str, Any]:
    """The item's line in the collection blob: the whole item, or, with ``claim_check`` (the
    item's claim blob), the item with its title and body cut to a preview, as a message."""
    line = item.to_dict()
    if claim_check is not None:
        line.update(
            title=item.title[:_CUT_BODY_CHARS],
            body=item.body[:_CUT_BODY_CHARS],
            body_truncated=len(item.body) > _CUT_BODY_CHARS,
            claim_check=claim_check,
        )
    return line


def encode_collection_line(line: dict[str, Any]) -> bytes:
    """A collection-blob line: compact UTF-8 JSON, as the message is encoded (values JSON does
    not know written as text), and a newline. ``BlobStore.append_jsonl`` takes it as it is."""
    return item_line(_JSON.encode(line))


def encode_item(item: ContentItem) -> str:
    """The item's fields (``ContentItem.to_dict``) as compact UTF-8 JSON, encoded once for
    both outputs: its collection-blob line (``item_line``) and its message (``item_message``).
    """
    return _JSON.encode(item.to_dict())


def item_line(item_json: str) -> bytes:
    """A collection-blob line from its JSON: ``encode_collection_line(collection_line(item))``
    from ``encode_item(item)``."""
    return (item_json + "\n").encode("utf-8")


def message_frame(*, collection_id: str, collection_blob: str, mode: str) -> str:
    """The fields a run adds to every item's message (``item_message``), encoded once a run."""
    frame = {
        "collection_id": collection_id,
        "collection_blob": collection_blob,
        "body_truncated": False,
        "claim_check": None,
        "mode": mode,
    }
    return "," + _JSON.encode(frame)[1:]


def item_message(item_json: str, message_id: str, frame: str) -> str:
    """``encode_message(build_message(item, ...))`` (no claim check) from ``encode_item(item)``
    and the run's ``message_frame``, without encoding the item again: the same JSON object,
    its fields in another order. ``message_id`` is hex (``new_message_id``)."""
    if not _HEX_ID.fullmatch(message_id):
        raise ValueError(f"a message id is hex digits, got {message_id!r}")
    return f'{{"schema":"{SCHEMA_ID}","id":"{message_id}",{item_json[1:-1]}{frame}'


def line_needs_claim_check(line: bytes) -> bool:
    """True when a collection-blob line (``encode_collection_line``) would not fit in one
    append block."""
    return len(line) > MAX_COLLECTION_LINE_BYTES


def collection_blob_name(collection_id: str, started_at_iso: str) -> str:
    """``collections/YYYY/MM/DD/HHMMSS-<collection_id>.jsonl``: the same layout in both modes,
    sortable by time, so a lookback window is a set of date prefixes."""
    day, _, clock = started_at_iso.partition("T")
    hhmmss = clock[:8].replace(":", "")
    return f"{COLLECTIONS_PREFIX}{day.replace('-', '/')}/{hhmmss}-{collection_id}.jsonl"


def claim_blob_name(collection_id: str, content_hash: str) -> str:
    return f"{CLAIMS_PREFIX}{collection_id}/{content_hash}.json"


def build_message(
    item: ContentItem,
    *,
    collection_id: str,
    collection_blob: str,
    mode: str,
    message_id: str | None = None,
    claim_check: str | None = None,
) -> dict[str, Any]:
    """The v1 message for ``item``. With ``claim_check`` the body is cut to a preview."""
    body = item.body
    truncated = False
    if claim_check is not None and len(body) > _CUT_BODY_CHARS:
        body, truncated = body[:_CUT_BODY_CHARS], True
    return {
        "schema": SCHEMA_ID,
        "id": message_id or new_message_id(),
        "content_hash": item.content_hash,
        "source": item.source,
        "source_name": item.source_name,
        "source_id": item.source_id,
        "url": item.url,
        "title": item.title,
        "author": item.author,
        "published_at": item.published_at.isoformat(),
        "collected_at": item.collected_at.isoformat(),
        "collection_id": collection_id,
        "collection_blob": collection_blob,
        "body": body,
        "body_truncated": truncated,
        "claim_check": claim_check,
        "metadata": item.metadata,
        "mode": mode,
    }


def encode_message(message: dict[str, Any]) -> str:
    """Compact JSON, as sent (the queue adapter base64-encodes it)."""
    return _JSON.encode(message)


def new_message_id() -> str:
    """A random UUID (version 4, RFC 4122 variant) as 32 hex digits, like
    ``uuid.uuid4().hex`` (the same source, ``os.urandom``) but without building a ``UUID``
    object, and with the random bytes read 256 ids at a time: a system call an id cost more
    than the rest of it."""
    try:
        n = _RANDOM_IDS.pop()
    except IndexError:
        pool = os.urandom(16 * 256)
        _RANDOM_IDS.extend(int.from_bytes(pool[i : i + 16]) for i in range(0, len(pool), 16))
        n = _RANDOM_IDS.pop()
    return f"{n & _UUID4_CLEAR | _UUID4_SET:032x}"


_RANDOM_IDS: list[int] = []  # random 128-bit numbers not handed out yet
# A child process must not hand out its parent's numbers.
os.register_at_fork(after_in_child=_RANDOM_IDS.clear)


# uuid.UUID(version=4): the version nibble (bits 76-79) set to 4, the variant's two bits
# (62-63) to 10.
_UUID4_CLEAR = ~((0xF000 << 64) | (0xC000 << 48))
_UUID4_SET = (4 << 76) | (0x8000 << 48)


def needs_claim_check(message: dict[str, Any] | str) -> bool:
    """True when the message (a dict, or its encoded text) would pass 64 KiB once
    base64-encoded."""
    text = message if isinstance(message, str) else encode_message(message)
    return len(text.encode("utf-8")) > _MAX_RAW_MESSAGE_BYTES


@lru_cache(maxsize=1)
def message_schema() -> dict[str, Any]:
    text = (Path(__file__).parent / "content-item-v1.schema.json").read_text()
    schema: dict[str, Any] = json.loads(text)
    return schema


def validate_message(message: Any) -> None:
    """Raise ``ValueError`` naming the first problem when ``message`` is not a valid v1 message."""
    import jsonschema

    validator = jsonschema.Draft202012Validator(message_schema())
    error = jsonschema.exceptions.best_match(validator.iter_errors(message))
    if error is not None:
        where = "/".join(str(p) for p in error.absolute_path) or "(message)"
        raise ValueError(f"invalid {SCHEMA_ID} message at {where}: {error.message}")
