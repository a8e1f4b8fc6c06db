"""Azure Storage adapters (queue, append-blob JSONL, JSON blobs) on the ``aio`` SDK.

Build a ``StorageAccount`` from ``AZURE_STORAGE_CONNECTION_STRING`` (or an explicit string) and
use it as an async context manager; ``account.queue(name)`` and ``account.container(name)``
give adapters that create their queue or container when missing. Every SDK error is turned into
one of ``pipeline.errors``' types whose message says what failed and never holds a key or a SAS
token (the SDK's own exception is not chained, since its text may carry request URLs).
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, NoReturn
from urllib.parse import urlsplit

from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.storage.blob import BlobType
from azure.storage.blob.aio import BlobServiceClient, ContainerClient
from azure.storage.queue import TextBase64DecodePolicy, TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from pipeline.errors import (
    MessageTooLargeError,
    StorageAuthError,
    StorageError,
    StorageUnavailableError,
)

__all__ = [
    "CONNECTION_STRING_ENV",
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

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
MAX_MESSAGE_BYTES = 65536  # the service's limit on a message once encoded
MAX_RECEIVE_BATCH = 32  # the service's limit on messages per receive
_MAX_APPEND_BLOCK = 4 * 1024 * 1024

_SECRET_PATTERNS = (
    re.compile(r"(AccountKey=)[^;\s]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s]+", re.IGNORECASE),
    re.compile(r"(Authorization:?\s*['\"]?SharedKey\s+[^:\s]+:)[^\s'\"]+", re.IGNORECASE),
)


def redact(text: str) -> str:
    """Replace account keys, SAS signatures and SharedKey signatures by ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class ETagConflictError(StorageError):
    """A conditional write lost: the blob changed (or appeared) since it was read."""


def _parse_connection_string(conn: str) -> dict[str, str]:
    parts: dict[str, str] = {}
    for chunk in conn.strip().split(";"):
        if not chunk.strip():
            continue
        key, sep, value = chunk.partition("=")
        if not sep:
            raise StorageError(
                "the storage connection string is malformed: expected key=value pairs "
                "separated by ';'"
            )
        parts[key.strip().lower()] = value.strip()
    return parts


def _endpoint(parts: dict[str, str], service: str) -> str:
    explicit = parts.get(f"{service}endpoint")
    if explicit:
        return explicit.rstrip("/")
    account = parts.get("accountname", "?")
    protocol = parts.get("defaultendpointsprotocol", "https")
    suffix = parts.get("endpointsuffix", "core.windows.net")
    return f"{protocol}://{account}.{service}.{suffix}"


def _is_loopback(endpoint: str) -> bool:
    host = urlsplit(endpoint).hostname or ""
    return host in ("localhost", "::1") or host.startswith("127.")


def _fail(exc: BaseException, what: str, endpoint: str) -> NoReturn:
    """Raise our own error for an SDK error on ``what`` (e.g. "queue 'x'")."""
    if isinstance(exc, ResourceModifiedError) or getattr(exc, "status_code", None) == 412:
        raise ETagConflictError(
            f"{what} changed since it was read (ETag condition failed)"
        ) from None
    if isinstance(exc, ServiceRequestError | ServiceResponseError) and not getattr(
        exc, "status_code", None
    ):
        raise StorageUnavailableError(
            f"{what}: Azure Storage not reachable at {endpoint} (is Azurite running?)"
        ) from None
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    if isinstance(exc, ClientAuthenticationError) or status == 403:
        raise StorageAuthError(
            f"{what}: authentication refused by {endpoint} (HTTP {status}, {code}); "
            "check the account name and key in the connection string"
        ) from None
    if isinstance(exc, ResourceNotFoundError):
        raise StorageError(f"{what} not found at {endpoint} (HTTP {status}, {code})") from None
    reason = redact(str(getattr(exc, "reason", "") or type(exc).__name__))
    raise StorageError(
        f"{what}: storage error at {endpoint} (HTTP {status}, {code}: {reason})"
    ) from None


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message taken from a queue; ``content`` is None when it was not valid base64 text."""

    id: str
    pop_receipt: str
    dequeue_count: int
    content: str | None
    raw_content: str
    inserted_on: datetime | None
    next_visible_on: datetime | None

    def json(self) -> Any:
        if self.content is None:
            raise ValueError(f"message {self.id} is not base64 text")
        return json.loads(self.content)


@dataclass(frozen=True, slots=True)
class BlobInfo:
    name: str
    size: int
    last_modified: datetime | None
    etag: str | None


class StorageAccount:
    """One storage account: a queue service client and a blob service client, shared."""

    def __init__(self, connection_string: str | None = None) -> None:
        conn = connection_string or os.environ.get(CONNECTION_STRING_ENV)
        if not conn:
            raise StorageError(
                f"no storage connection string: set {CONNECTION_STRING_ENV} or pass one"
            )
        parts = _parse_connection_string(conn)
        self.account_name = parts.get("accountname", "")
        self.queue_endpoint = _endpoint(parts, "queue")
        self.blob_endpoint = _endpoint(parts, "blob")
        self._conn = conn
        # A local emulator either answers at once or is not running: fail in seconds, not
        # after the SDK's production back-off (15 s, then 3^n).
        self._client_options: dict[str, Any] = (
            {"retry_total": 2, "initial_backoff": 0.2, "increment_base": 1.5}
            if _is_loopback(self.queue_endpoint) and _is_loopback(self.blob_endpoint)
            else {}
        )
        self._queue_service: QueueServiceClient | None = None
        self._blob_service: BlobServiceClient | None = None

    def __repr__(self) -> str:
        return f"StorageAccount(queue={self.queue_endpoint!r}, blob={self.blob_endpoint!r})"

    @classmethod
    def from_env(cls) -> StorageAccount:
        return cls(None)

    async def __aenter__(self) -> StorageAccount:
        try:
            self._queue_service = QueueServiceClient.from_connection_string(
                self._conn, **self._client_options
            )
            self._blob_service = BlobServiceClient.from_connection_string(
                self._conn, **self._client_options
            )
        except (ValueError, AzureError):
            raise StorageError("the storage connection string is invalid") from None
        await self._queue_service.__aenter__()
        await self._blob_service.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._queue_service is not None:
            await self._queue_service.__aexit__(exc_type, exc, tb)
        if self._blob_service is not None:
            await self._blob_service.__aexit__(exc_type, exc, tb)
        self._queue_service = self._blob_service = None

    def _services(self) -> tuple[QueueServiceClient, BlobServiceClient]:
        if self._queue_service is None or self._blob_service is None:
            raise StorageError("StorageAccount used outside `async with`")
        return self._queue_service, self._blob_service

    def queue(self, name: str) -> QueueAdapter:
        queue_service, _ = self._services()
        return QueueAdapter(queue_service, name, self.queue_endpoint)

    def container(self, name: str) -> BlobStore:
        _, blob_service = self._services()
        return BlobStore(blob_service.get_container_client(name), name, self.blob_endpoint)

    async def list_queues(self, prefix: str = "") -> list[str]:
        queue_service, _ = self._services()
        try:
            return [q.name async for q in queue_service.list_queues(name_starts_with=prefix)]
        except AzureError as exc:
            _fail(exc, "list queues", self.queue_endpoint)

    async def delete_queue(self, name: str) -> None:
        queue_service, _ = self._services()
        try:
            await queue_service.delete_queue(name)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            _fail(exc, f"queue {name!r}", self.queue_endpoint)

    async def delete_container(self, name: str) -> None:
        _, blob_service = self._services()
        try:
            await blob_service.delete_container(name)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            _fail(exc, f"container {name!r}", self.blob_endpoint)


class QueueAdapter:
    """A Storage Queue with JSON-in-base64 messages (as Azure Functions expect)."""

    def __init__(self, service: QueueServiceClient, name: str, endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self._what = f"queue {name!r}"
        self._client: QueueClient = service.get_queue_client(
            name, message_encode_policy=TextBase64EncodePolicy()
        )
        # Received raw and decoded here: the SDK's decode policy fails a whole receive
        # (with AttributeError) on one message that is not base64.
        self._raw_client: QueueClient = service.get_queue_client(name)
        self._decoder = TextBase64DecodePolicy()

    async def create_if_missing(self) -> QueueAdapter:
        try:
            await self._client.create_queue()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)
        return self

    @staticmethod
    def encoded_size(text: str) -> int:
        """Bytes the message takes on the wire once base64-encoded."""
        return 4 * ((len(text.encode("utf-8")) + 2) // 3)

    def check_size(self, text: str) -> None:
        size = self.encoded_size(text)
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLargeError(
                f"{self._what}: message is {size} bytes once base64-encoded, over the "
                f"{MAX_MESSAGE_BYTES}-byte limit"
            )

    async def send(
        self, content: str | dict[str, Any], *, visibility_timeout: int | None = None
    ) -> str:
        """Send one message (a dict is sent as compact JSON); returns its id."""
        text = content if isinstance(content, str) else json.dumps(content, separators=(",", ":"))
        self.check_size(text)
        try:
            sent = await self._client.send_message(text, visibility_timeout=visibility_timeout)
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)
        return str(sent.id)

    async def receive(
        self, max_messages: int = MAX_RECEIVE_BATCH, *, visibility_timeout: int = 30
    ) -> list[ReceivedMessage]:
        """Take up to ``max_messages`` (1-32) visible messages, hiding them for the timeout."""
        if not 1 <= max_messages <= MAX_RECEIVE_BATCH:
            raise ValueError(f"max_messages must be 1-{MAX_RECEIVE_BATCH}, got {max_messages}")
        out: list[ReceivedMessage] = []
        try:
            pages = self._raw_client.receive_messages(
                messages_per_page=max_messages,
                max_messages=max_messages,
                visibility_timeout=visibility_timeout,
            ).by_page()
            page = await pages.__anext__()
            async for msg in page:
                out.append(self._wrap(msg))
        except StopAsyncIteration:
            pass
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)
        return out

    def _wrap(self, msg: Any) -> ReceivedMessage:
        raw = msg.content if isinstance(msg.content, str) else str(msg.content)
        content: str | None
        try:
            content = self._decoder.decode(raw, None)  # type: ignore[arg-type]
        except (AzureError, AttributeError, ValueError, UnicodeDecodeError):
            content = None
        return ReceivedMessage(
            id=msg.id,
            pop_receipt=msg.pop_receipt,
            dequeue_count=int(msg.dequeue_count or 0),
            content=content,
            raw_content=raw,
            inserted_on=msg.inserted_on,
            next_visible_on=msg.next_visible_on,
        )

    async def delete(self, message: ReceivedMessage) -> None:
        try:
            await self._raw_client.delete_message(message.id, message.pop_receipt)
        except AzureError as exc:
            _fail(exc, f"{self._what} (delete message {message.id})", self.endpoint)

    async def update_visibility(
        self, message: ReceivedMessage, visibility_timeout: int
    ) -> ReceivedMessage:
        """Hide the message for ``visibility_timeout`` more seconds; returns it with its new receipt."""
        try:
            updated = await self._raw_client.update_message(
                message.id, message.pop_receipt, visibility_timeout=visibility_timeout
            )
        except AzureError as exc:
            _fail(exc, f"{self._what} (update message {message.id})", self.endpoint)
        return ReceivedMessage(
            id=message.id,
            pop_receipt=str(updated.pop_receipt),
            dequeue_count=message.dequeue_count,
            content=message.content,
            raw_content=message.raw_content,
            inserted_on=message.inserted_on,
            next_visible_on=updated.next_visible_on,
        )

    async def peek(self, max_messages: int = MAX_RECEIVE_BATCH) -> list[ReceivedMessage]:
        try:
            peeked = await self._raw_client.peek_messages(max_messages=max_messages)
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)
        return [self._wrap(m) for m in peeked]

    async def approximate_count(self) -> int:
        """Visible and in-flight messages (what KEDA's `all` strategy reports)."""
        try:
            props = await self._client.get_queue_properties()
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)
        return int(props.approximate_message_count or 0)

    async def clear(self) -> None:
        try:
            await self._client.clear_messages()
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)

    async def close(self) -> None:
        await self._client.close()
        await self._raw_client.close()


class BlobStore:
    """A blob container: append-blob JSONL, JSON blobs with ETag conditions, listing by prefix."""

    def __init__(self, client: ContainerClient, name: str, endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self._client = client
        self._what = f"container {name!r}"

    def _blob_what(self, blob: str) -> str:
        return f"blob {blob!r} in {self._what}"

    async def create_if_missing(self) -> BlobStore:
        try:
            await self._client.create_container()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            _fail(exc, self._what, self.endpoint)
        return self

    async def ensure_append_blob(self, blob: str) -> None:
        """Create an empty append blob unless it exists (never truncates)."""
        try:
            await self._client.get_blob_client(blob).create_append_blob(
                if_none_match="*", content_settings=None
            )
        except (ResourceExistsError, ResourceModifiedError):
            pass
        except AzureError as exc:
            if getattr(exc, "status_code", None) in (409, 412):
                return
            _fail(exc, self._blob_what(blob), self.endpoint)

    async def append_jsonl(self, blob: str, records: Iterable[Any]) -> int:
        """Append records as JSON lines (blob created when missing); returns lines written.

        Each append is one block of whole lines, so concurrent writers never interleave
        within a line. The blob is created only when an append finds it missing, so a
        steady stream of appends costs one request each.
        """
        blocks: list[bytes] = []
        chunk: list[bytes] = []
        size = lines = 0
        for record in records:
            data = (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode("utf-8")
            if len(data) > _MAX_APPEND_BLOCK:
                raise StorageError(
                    f"{self._blob_what(blob)}: one record is {len(data)} bytes, over the "
                    f"{_MAX_APPEND_BLOCK}-byte append block limit"
                )
            if size + len(data) > _MAX_APPEND_BLOCK:
                blocks.append(b"".join(chunk))
                chunk, size = [], 0
            chunk.append(data)
            size += len(data)
            lines += 1
        if chunk:
            blocks.append(b"".join(chunk))
        client = self._client.get_blob_client(blob)
        try:
            for number, block in enumerate(blocks):
                try:
                    await client.append_block(block)
                except ResourceNotFoundError:
                    if number:
                        raise
                    await self.ensure_append_blob(blob)
                    await client.append_block(block)
        except AzureError as exc:
            _fail(exc, self._blob_what(blob), self.endpoint)
        return lines

    async def read_jsonl(self, blob: str) -> list[Any]:
        """All records of a JSONL blob, in order (a missing blob is an error)."""
        data = await self.read_bytes(blob)
        if data is None:
            raise StorageError(f"{self._blob_what(blob)} not found at {self.endpoint}")
        out = []
        for number, line in enumerate(data.decode("utf-8").splitlines(), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    raise StorageError(
                        f"{self._blob_what(blob)}: line {number} is not valid JSON"
                    ) from None
        return out

    async def read_bytes(self, blob: str) -> bytes | None:
        """The blob's content, or None when it does not exist."""
        content, _ = await self._download(blob)
        return content

    async def _download(self, blob: str) -> tuple[bytes | None, str | None]:
        try:
            downloader = await self._client.get_blob_client(blob).download_blob()
            content = await downloader.readall()
            etag = downloader.properties.etag
        except ResourceNotFoundError:
            return None, None
        except AzureError as exc:
            _fail(exc, self._blob_what(blob), self.endpoint)
        return bytes(content), etag

    async def read_json(self, blob: str) -> tuple[Any, str | None]:
        """``(data, etag)``, or ``(None, None)`` when the blob does not exist."""
        content, etag = await self._download(blob)
        if content is None:
            return None, None
        try:
            return json.loads(content), etag
        except ValueError:
            raise StorageError(f"{self._blob_what(blob)} is not valid JSON") from None

    async def write_bytes(
        self,
        blob: str,
        data: bytes,
        *,
        etag: str | None = None,
        create_only: bool = False,
        content_type: str | None = None,
    ) -> str:
        """Write a block blob. ``etag``: only if unchanged since read; ``create_only``: only
        if absent. A lost condition raises ``ETagConflictError``. Returns the new ETag."""
        from azure.core import MatchConditions
        from azure.storage.blob import ContentSettings

        kwargs: dict[str, Any] = {}
        if etag is not None:
            kwargs.update(etag=etag, match_condition=MatchConditions.IfNotModified)
        elif create_only:
            kwargs["if_none_match"] = "*"
        if content_type:
            kwargs["content_settings"] = ContentSettings(content_type=content_type)
        try:
            result = await self._client.get_blob_client(blob).upload_blob(
                data, blob_type=BlobType.BLOCKBLOB, overwrite=True, **kwargs
            )
        except ResourceExistsError:
            raise ETagConflictError(f"{self._blob_what(blob)} already exists") from None
        except AzureError as exc:
            if getattr(exc, "status_code", None) == 409 and create_only:
                raise ETagConflictError(f"{self._blob_what(blob)} already exists") from None
            _fail(exc, self._blob_what(blob), self.endpoint)
        return str(result.get("etag"))

    async def write_json(
        self, blob: str, data: Any, *, etag: str | None = None, create_only: bool = False
    ) -> str:
        payload = json.dumps(data, separators=(",", ":"), default=str).encode("utf-8")
        return await self.write_bytes(
            blob, payload, etag=etag, create_only=create_only, content_type="application/json"
        )

    async def exists(self, blob: str) -> bool:
        try:
            return bool(await self._client.get_blob_client(blob).exists())
        except AzureError as exc:
            _fail(exc, self._blob_what(blob), self.endpoint)

    async def list(self, prefix: str = "") -> list[BlobInfo]:
        return [info async for info in self.iter(prefix)]

    async def iter(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        try:
            async for props in self._client.list_blobs(name_starts_with=prefix or None):
                yield BlobInfo(props.name, int(props.size or 0), props.last_modified, props.etag)
        except AzureError as exc:
            _fail(exc, f"{self._what} (list {prefix!r})", self.endpoint)

    async def delete(self, blob: str) -> bool:
        """Delete a blob; False when it was already gone."""
        try:
            await self._client.delete_blob(blob)
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            _fail(exc, self._blob_what(blob), self.endpoint)
        return True
