"""Azure Storage adapters (queue, append-blob JSONL, JSON blobs) on the ``aio`` SDK.

Build a ``StorageAccount`` from ``AZURE_STORAGE_CONNECTION_STRING`` (or an explicit string) and
use it as an async context manager; ``account.queue(name)`` and ``account.container(name)``
give adapters that create their queue or container when missing. Every SDK error is turned into
one of ``pipeline.errors``' types whose message says what failed and never holds a key or a SAS
token (the SDK's own exception is not chained, since its text may carry request URLs).
"""

from __future__ import annotations

from pipeline.storage._account import CONNECTION_STRING_ENV, StorageAccount
from pipeline.storage._blob import MAX_APPEND_BLOCK_BYTES, BlobInfo, BlobStore
from pipeline.storage._errors import ETagConflictError, redact
from pipeline.storage._queue import (
    MAX_MESSAGE_BYTES,
    MAX_RECEIVE_BATCH,
    QueueAdapter,
    ReceivedMessage,
)

__all__ = [
    "CONNECTION_STRING_ENV",
    "MAX_APPEND_BLOCK_BYTES",
    "MAX_MESSAGE_BYTES",
    "MAX_RECEIVE_BATCH",
    "BlobInfo",
    "BlobStore",
    "ETagConflictError",
    "QueueAdapter",
    "ReceivedMessage",
    "StorageAccount",
    "redact",
]
