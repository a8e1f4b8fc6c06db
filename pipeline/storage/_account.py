"""One storage account from a connection string: the queue and blob service clients, shared."""

from __future__ import annotations

import base64
import os
import urllib.request
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit

from azure.core.exceptions import AzureError, ResourceNotFoundError
from azure.storage.blob.aio import BlobServiceClient
from azure.storage.queue.aio import QueueServiceClient

from pipeline.errors import StorageError
from pipeline.storage._blob import BlobStore
from pipeline.storage._errors import raise_storage_error
from pipeline.storage._queue import QueueAdapter

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"


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


def _check_account_key(key: str | None) -> None:
    """An account key is base64; the SDK would fail to sign each request instead, as an
    authentication error without a status. The key itself is never shown."""
    if key is None:
        return
    try:
        base64.b64decode(key, validate=True)
    except ValueError:
        raise StorageError(
            "the storage connection string's AccountKey is not valid base64 "
            "(copy the key exactly as the portal or `az storage account keys list` shows it)"
        ) from None


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


def _environment_applies(*endpoints: str) -> bool:
    """Whether a proxy from the environment applies to an endpoint, or a .netrc file exists.

    Only then do the SDK's clients need to read the environment: with it on, aiohttp looks up
    the proxy and the .netrc credentials in two worker-thread calls on every request, a third
    of the CPU of a queue send and a wait on a busy thread for the first item.
    """
    netrc = os.environ.get("NETRC")
    try:
        candidates = [Path(netrc)] if netrc else [Path.home() / ".netrc", Path.home() / "_netrc"]
    except RuntimeError:  # no home directory: aiohttp finds no .netrc either
        candidates = []
    if any(path.is_file() for path in candidates):
        return True
    proxies = urllib.request.getproxies()
    for endpoint in endpoints:
        parts = urlsplit(endpoint)
        if parts.scheme in proxies and not urllib.request.proxy_bypass(parts.hostname or ""):
            return True
    return False


class StorageAccount:
    """One storage account: a queue service client and a blob service client, shared.

    ``client_options``: the keyword options every SDK client of the account is built with.
    """

    def __init__(self, connection_string: str | None = None) -> None:
        conn = connection_string or os.environ.get(CONNECTION_STRING_ENV)
        if not conn:
            raise StorageError(
                f"no storage connection string: set {CONNECTION_STRING_ENV} or pass one"
            )
        parts = _parse_connection_string(conn)
        _check_account_key(parts.get("accountkey"))
        self.account_name = parts.get("accountname", "")
        self.queue_endpoint = _endpoint(parts, "queue")
        self.blob_endpoint = _endpoint(parts, "blob")
        self._conn = conn
        # A local emulator either answers at once or is not running: fail in seconds, not
        # after the SDK's production back-off (15 s, then 3^n).
        self.client_options: dict[str, Any] = (
            {"retry_total": 2, "initial_backoff": 0.2, "increment_base": 1.5}
            if _is_loopback(self.queue_endpoint) and _is_loopback(self.blob_endpoint)
            else {}
        )
        # The environment is read once, here: no proxy applies, no .netrc, nothing to look up
        # per request.
        if not _environment_applies(self.queue_endpoint, self.blob_endpoint):
            self.client_options["use_env_settings"] = False
        self._queue_service: QueueServiceClient | None = None
        self._blob_service: BlobServiceClient | None = None

    def __repr__(self) -> str:
        return f"StorageAccount(queue={self.queue_endpoint!r}, blob={self.blob_endpoint!r})"

    async def __aenter__(self) -> StorageAccount:
        try:
            self._queue_service = QueueServiceClient.from_connection_string(
                self._conn, **self.client_options
            )
            self._blob_service = BlobServiceClient.from_connection_string(
                self._conn, **self.client_options
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
            raise_storage_error(exc, "list queues", self.queue_endpoint)

    async def list_containers(self, prefix: str = "") -> list[str]:
        _, blob_service = self._services()
        try:
            return [
                c.name async for c in blob_service.list_containers(name_starts_with=prefix or None)
            ]
        except AzureError as exc:
            raise_storage_error(exc, "list containers", self.blob_endpoint)

    async def delete_queue(self, name: str) -> None:
        queue_service, _ = self._services()
        try:
            await queue_service.delete_queue(name)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise_storage_error(exc, f"queue {name!r}", self.queue_endpoint)

    async def delete_container(self, name: str) -> None:
        _, blob_service = self._services()
        try:
            await blob_service.delete_container(name)
        except ResourceNotFoundError:
            return
        except AzureError as exc:
            raise_storage_error(exc, f"container {name!r}", self.blob_endpoint)
