"""A blob container: append-blob JSONL, JSON blobs with ETag conditions, listing by prefix."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import (
    AzureError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.storage.blob import BlobType
from azure.storage.blob.aio import ContainerClient

from pipeline.errors import StorageError
from pipeline.storage._errors import ETagConflictError, raise_storage_error

MAX_APPEND_BLOCK_BYTES = 4 * 1024 * 1024  # the service's limit on one append block


@dataclass(frozen=True, slots=True)
class BlobInfo:
    name: str
    size: int
    last_modified: datetime | None
    etag: str | None


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
            raise_storage_error(exc, self._what, self.endpoint)
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
            raise_storage_error(exc, self._blob_what(blob), self.endpoint)

    async def append_jsonl(self, blob: str, records: Iterable[Any]) -> int:
        """Append records as JSON lines (blob created when missing); returns lines written.
        A record is encoded here as compact JSON, or given as ``bytes``: a line already encoded,
        its newline included.

        Each append is one block of whole lines, so concurrent writers never interleave
        within a line. The blob is created only when an append finds it missing, so a
        steady stream of appends costs one request each.
        """
        blocks: list[bytes] = []
        chunk: list[bytes] = []
        size = lines = 0
        for record in records:
            data = (
                record  # a line already encoded (``pipeline.messages.encode_collection_line``)
                if isinstance(record, bytes)
                else (json.dumps(record, separators=(",", ":"), default=str) + "\n").encode()
            )
            if len(data) > MAX_APPEND_BLOCK_BYTES:
                raise StorageError(
                    f"{self._blob_what(blob)}: one record is {len(data)} bytes, over the "
                    f"{MAX_APPEND_BLOCK_BYTES}-byte append block limit"
                )
            if size + len(data) > MAX_APPEND_BLOCK_BYTES:
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
            raise_storage_error(exc, self._blob_what(blob), self.endpoint)
        return lines

    async def read_jsonl(self, blob: str) -> list[Any]:
        """All records of a JSONL blob, in order (a missing blob is an error)."""
        data = await self.read_bytes(blob)
        if data is None:
            raise StorageError(f"{self._blob_what(blob)} not found at {self.endpoint}")
        out = []
        # Split the bytes, not the text: a UTF-8 line may hold U+2028 and the like in a string,
        # which ``str.splitlines`` would take for line ends.
        for number, line in enumerate(data.split(b"\n"), 1):
            if line.strip():
                try:
                    out.append(json.loads(line))
                except ValueError:
                    raise StorageError(
                        f"{self._blob_what(blob)}: line {number} is not valid JSON"
                    ) from None
        return out

    async def read_bytes(self, blob: str, *, max_bytes: int | None = None) -> bytes | None:
        """The blob's content, or None when it does not exist. With ``max_bytes``, at most
        ``max_bytes + 1`` bytes are read: a longer result means the blob is over the cap."""
        content, _ = await self._download(blob, max_bytes)
        return content

    async def _download(
        self, blob: str, max_bytes: int | None = None
    ) -> tuple[bytes | None, str | None]:
        ranged = max_bytes is not None
        length = None if max_bytes is None else max_bytes + 1
        try:
            downloader = await self._client.get_blob_client(blob).download_blob(
                offset=0 if ranged else None, length=length
            )
            content = await downloader.readall()
            etag = downloader.properties.etag
        except ResourceNotFoundError:
            return None, None
        except AzureError as exc:
            if ranged and getattr(exc, "status_code", None) == 416:
                return b"", None  # a range of an empty blob is "invalid" to the service
            raise_storage_error(exc, self._blob_what(blob), self.endpoint)
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
            raise_storage_error(exc, self._blob_what(blob), self.endpoint)
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
            raise_storage_error(exc, self._blob_what(blob), self.endpoint)

    async def list(self, prefix: str = "") -> list[BlobInfo]:
        return [info async for info in self.iter(prefix)]

    async def iter(self, prefix: str = "") -> AsyncIterator[BlobInfo]:
        try:
            async for props in self._client.list_blobs(name_starts_with=prefix or None):
                yield BlobInfo(props.name, int(props.size or 0), props.last_modified, props.etag)
        except AzureError as exc:
            raise_storage_error(exc, f"{self._what} (list {prefix!r})", self.endpoint)

    async def delete(self, blob: str) -> bool:
        """Delete a blob; False when it was already gone."""
        try:
            await self._client.delete_blob(blob)
        except ResourceNotFoundError:
            return False
        except AzureError as exc:
            raise_storage_error(exc, self._blob_what(blob), self.endpoint)
        return True
