"""HAR 1.2 replay and recording at the transport seam (docs/contracts.md, Recordings).

``ReplayTransport`` answers each request with the recorded response for the same method and
URL (query order ignored), in recorded order when a URL repeats, after waiting the entry's
recorded ``time`` on the clock. ``RecordingTransport`` wraps a real transport and keeps every
exchange as a HAR 1.2 entry. HAR exported by browser devtools or mitmproxy replays as well.

Writing: ``har_entry`` builds one entry (the recorder, the synthetic generator and the test
fixtures all use it) and ``write_har`` writes a file of them.
"""

from __future__ import annotations

import base64
import difflib
import json
import logging
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Iterable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import httpx

from pipeline.clock import Clock
from pipeline.errors import ReplayError

__all__ = [
    "HAR_CREATOR",
    "RecordingTransport",
    "ReplayTransport",
    "entry_body",
    "har_entry",
    "har_time",
    "load_har",
    "match_key",
    "write_har",
]

log = logging.getLogger(__name__)

HAR_CREATOR = {"name": "streaming-collection-workbench", "version": "0.1"}
# Headers that describe the wire, not the body we replay (HAR bodies are decoded).
_WIRE_HEADERS = frozenset({"content-encoding", "transfer-encoding", "content-length", "connection"})
# Never written to a recording: a HAR is shared, credentials must not travel with it.
_SECRET_HEADERS = frozenset({"authorization", "cookie", "set-cookie", "proxy-authorization"})


def match_key(method: str, url: str) -> tuple[str, str]:
    """How requests are matched: method and URL, query parameters sorted, fragment dropped."""
    parts = urlsplit(url)
    query = urlencode(sorted(parse_qsl(parts.query, keep_blank_values=True)))
    host = (parts.hostname or "").lower()
    if parts.port and not (
        (parts.scheme == "http" and parts.port == 80)
        or (parts.scheme == "https" and parts.port == 443)
    ):
        host = f"{host}:{parts.port}"
    path = parts.path or "/"
    return method.upper(), urlunsplit((parts.scheme.lower(), host, path, query, ""))


def load_har(path: str | Path) -> list[dict[str, Any]]:
    """The entries of a HAR file, checked enough to replay; ``ReplayError`` when unusable."""
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8-sig"))
    except FileNotFoundError:
        raise ReplayError(f"{path}: HAR file not found") from None
    except (OSError, ValueError) as exc:
        raise ReplayError(f"{path}: not a readable HAR (JSON) file: {exc}") from None
    entries = doc.get("log", {}).get("entries") if isinstance(doc, dict) else None
    if not isinstance(entries, list):
        raise ReplayError(f"{path}: not a HAR file (no log.entries)")
    for index, entry in enumerate(entries):
        try:
            entry["request"]["method"]
            entry["request"]["url"]
            int(entry["response"]["status"])
        except (KeyError, TypeError, ValueError):
            raise ReplayError(
                f"{path}: entry {index} lacks request.method, request.url or response.status"
            ) from None
    return entries


def write_har(path: str | Path, entries: Iterable[Mapping[str, Any]], comment: str = "") -> None:
    """Write entries as a HAR 1.2 document, oldest ``startedDateTime`` first (as HAR prefers)."""
    log_doc: dict[str, Any] = {"version": "1.2", "creator": dict(HAR_CREATOR)}
    if comment:
        log_doc["comment"] = comment
    log_doc["pages"] = []
    log_doc["entries"] = sorted(entries, key=lambda e: str(e.get("startedDateTime", "")))
    text = json.dumps({"log": log_doc}, indent=1, ensure_ascii=False)
    Path(path).write_text(text + "\n", encoding="utf-8")


def har_time(when: datetime) -> str:
    """A HAR ``startedDateTime``: ISO 8601 in UTC to the millisecond, ``Z`` for UTC."""
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def har_entry(
    *,
    started: datetime,
    time_ms: float,
    url: str,
    status: int,
    body: bytes,
    mime: str,
    method: str = "GET",
    request_headers: Iterable[tuple[str, str]] = (),
    query: Iterable[tuple[str, str]] | None = None,
    status_text: str | None = None,
    response_headers: Iterable[tuple[str, str]] = (),
    base64_body: bool = False,
    wire_size: int | None = None,
    redirect_url: str = "",
    http_version: str = "HTTP/1.1",
    timings: Mapping[str, float] | None = None,
    server_ip: str | None = None,
    connection: str | None = None,
) -> dict[str, Any]:
    """One HAR 1.2 entry of a GET-like exchange (no request body).

    The body is kept decoded: as text in the ``mime`` charset when it decodes and encodes back
    to the same bytes, else (or with ``base64_body``) as base64. ``wire_size``: the bytes that
    crossed the wire when they differ from the body (compressed), kept as ``bodySize`` and
    ``content.compression``. ``query`` defaults to the URL's query. Credentials in headers are
    written as ``[redacted]``. ``timings`` defaults to all of ``time_ms`` as ``wait``.
    """
    content: dict[str, Any] = {"size": len(body), "mimeType": mime}
    text = None if base64_body else _as_text(body, _charset(mime) or "utf-8")
    if text is None:
        content["text"] = base64.b64encode(body).decode("ascii")
        content["encoding"] = "base64"
    else:
        content["text"] = text
    if wire_size is not None:
        content["compression"] = len(body) - wire_size
    if query is None:
        query = parse_qsl(urlsplit(url).query, keep_blank_values=True)
    entry: dict[str, Any] = {
        "startedDateTime": har_time(started),
        "time": time_ms,
        "request": {
            "method": method,
            "url": url,
            "httpVersion": http_version,
            "cookies": [],
            "headers": _har_headers(request_headers),
            "queryString": [{"name": k, "value": v} for k, v in query],
            "headersSize": -1,
            "bodySize": 0,
        },
        "response": {
            "status": status,
            "statusText": httpx.codes.get_reason_phrase(status)
            if status_text is None
            else status_text,
            "httpVersion": http_version,
            "cookies": [],
            "headers": _har_headers(response_headers),
            "content": content,
            "redirectURL": redirect_url,
            "headersSize": -1,
            "bodySize": len(body) if wire_size is None else wire_size,
        },
        "cache": {},
        "timings": dict(timings) if timings else {"send": 0, "wait": time_ms, "receive": 0},
    }
    if server_ip is not None:
        entry["serverIPAddress"] = server_ip
    if connection is not None:
        entry["connection"] = connection
    return entry


def _as_text(body: bytes, charset: str) -> str | None:
    try:
        text = body.decode(charset)
        return text if text.encode(charset) == body else None
    except (LookupError, UnicodeError):
        return None


def entry_body(entry: Mapping[str, Any]) -> bytes:
    """The response body of a HAR entry as bytes (``encoding: base64`` supported)."""
    content = entry.get("response", {}).get("content") or {}
    text = content.get("text")
    if text is None:
        return b""
    if content.get("encoding") == "base64":
        return base64.b64decode(text)
    charset = _charset(str(content.get("mimeType") or "")) or "utf-8"
    try:
        return str(text).encode(charset)
    except (LookupError, UnicodeEncodeError):
        return str(text).encode("utf-8")


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.strip().partition("=")
        if key.lower() == "charset" and value:
            return value.strip("\"'")
    return None


def _har_headers(headers: Iterable[tuple[str, str]]) -> list[dict[str, str]]:
    return [
        {"name": k, "value": "[redacted]" if k.lower() in _SECRET_HEADERS else v}
        for k, v in headers
    ]


def _entry_headers(entry: Mapping[str, Any], body: bytes) -> list[tuple[str, str]]:
    headers = []
    for header in entry.get("response", {}).get("headers") or []:
        name = str(header.get("name", ""))
        if not name or name.startswith(":") or name.lower() in _WIRE_HEADERS:
            continue
        headers.append((name, str(header.get("value", ""))))
    headers.append(("Content-Length", str(len(body))))
    return headers


class ReplayTransport(httpx.AsyncBaseTransport):
    """Serves recorded responses; no network. A request with no answer raises ``ReplayError``."""

    def __init__(
        self, entries_or_har_path: str | Path | Iterable[Mapping[str, Any]], clock: Clock
    ) -> None:
        if isinstance(entries_or_har_path, str | Path):
            self.source = str(entries_or_har_path)
            entries: list[Mapping[str, Any]] = list(load_har(entries_or_har_path))
        else:
            self.source = "<entries>"
            entries = list(entries_or_har_path)
        self.clock = clock
        self._queues: dict[tuple[str, str], deque[Mapping[str, Any]]] = defaultdict(deque)
        self._counts: dict[tuple[str, str], int] = defaultdict(int)
        for entry in sorted(entries, key=lambda e: str(e.get("startedDateTime", ""))):
            req = entry["request"]
            key = match_key(str(req["method"]), str(req["url"]))
            self._queues[key].append(entry)
            self._counts[key] += 1
        self.served = 0

    @property
    def unused(self) -> int:
        """Recorded entries not served (yet)."""
        return sum(len(q) for q in self._queues.values())

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        key = match_key(request.method, str(request.url))
        queue = self._queues.get(key)
        if not queue:
            raise ReplayError(self._no_answer(key))
        entry = queue.popleft()
        self.served += 1
        elapsed_s = max(0.0, float(entry.get("time") or 0.0)) / 1000.0
        timeout = (request.extensions.get("timeout") or {}).get("read")
        if timeout is not None and elapsed_s > timeout:
            await self.clock.sleep(timeout)
            raise httpx.ReadTimeout(f"replayed response took {elapsed_s:.1f} s", request=request)
        await self.clock.sleep(elapsed_s)
        response = entry["response"]
        body = entry_body(entry)
        return httpx.Response(
            status_code=int(response["status"]),
            headers=_entry_headers(entry, body),
            content=body,
            request=request,
            extensions={"http_version": b"HTTP/1.1", "har_time_ms": entry.get("time")},
        )

    def _no_answer(self, key: tuple[str, str]) -> str:
        method, url = key
        if self._counts.get(key):
            return (
                f"replay ({self.source}): all {self._counts[key]} recorded answers to "
                f"{method} {url} were already used"
            )
        candidates = [u for (m, u) in self._counts if m == method]
        close = difflib.get_close_matches(url, candidates, n=3, cutoff=0.0)
        hint = f"; closest recorded: {', '.join(close)}" if close else ""
        return f"replay ({self.source}): no recorded answer for {method} {url}{hint}"

    async def aclose(self) -> None:
        return None


# Compressed bytes fed to the decoder at once: gzip inflates at most ~1,000-fold, so one slice
# adds at most ~1 MiB beyond the cap, whatever the server sends.
_DECODE_SLICE_BYTES = 1024


class RecordingTransport(httpx.AsyncBaseTransport):
    """Wraps a real transport and keeps each exchange as a HAR 1.2 entry (``entries``).

    ``max_body_bytes`` caps what is read and kept of one response, applied while decoding: a
    body that passes it (a gzip bomb, an endless stream) is cut at ``max_body_bytes + 1``
    decoded bytes, enough for the collector, live and replayed, to refuse it as too large.
    The entry then says so in its ``comment``.
    """

    def __init__(
        self, inner: httpx.AsyncBaseTransport | None = None, *, max_body_bytes: int | None = None
    ) -> None:
        if max_body_bytes is not None and max_body_bytes < 1:
            raise ValueError(f"max_body_bytes must be >= 1, got {max_body_bytes}")
        self.inner = inner or httpx.AsyncHTTPTransport()
        self.max_body_bytes = max_body_bytes
        self.entries: list[dict[str, Any]] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        started = datetime.now(UTC)
        t0 = time.perf_counter()
        response = await self.inner.handle_async_request(request)
        try:
            raw, decoded = await self._read(response)
        finally:
            await response.aclose()
        elapsed_ms = (time.perf_counter() - t0) * 1000.0
        # The bytes as they came (maybe compressed): the caller decodes them as usual.
        replayed = httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            content=raw,
            request=request,
            extensions={k: v for k, v in response.extensions.items() if k != "network_stream"},
        )
        entry = self._entry(request, response, decoded, started, elapsed_ms)
        if self.max_body_bytes is not None and len(decoded) > self.max_body_bytes:
            entry["comment"] = (
                f"response body cut at {len(decoded)} bytes while recording "
                f"(over the cap of {self.max_body_bytes} bytes)"
            )
        self.entries.append(entry)
        return replayed

    async def _read(self, response: httpx.Response) -> tuple[bytes, bytes]:
        """``(raw, decoded)``: the body as it came and decoded (HAR keeps it decoded), both
        read only up to the cap."""
        cap = self.max_body_bytes
        raw_parts: list[bytes] = []
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)

        async def raw_slices() -> AsyncIterator[bytes]:
            async for chunk in stream:
                for start in range(0, len(chunk), _DECODE_SLICE_BYTES):
                    piece = chunk[start : start + _DECODE_SLICE_BYTES]
                    raw_parts.append(piece)
                    yield piece

        # httpx's own decoders (the ones the collector uses), fed a slice at a time.
        decoding = httpx.Response(
            status_code=response.status_code, headers=response.headers, content=raw_slices()
        )
        decoded_parts: list[bytes] = []
        size = 0
        async for part in decoding.aiter_bytes():
            decoded_parts.append(part)
            size += len(part)
            if cap is not None and size > cap:
                break
        await decoding.aclose()
        decoded = b"".join(decoded_parts)
        if cap is not None:
            decoded = decoded[: cap + 1]
        return b"".join(raw_parts), decoded

    @staticmethod
    def _entry(
        request: httpx.Request,
        response: httpx.Response,
        body: bytes,
        started: datetime,
        elapsed_ms: float,
    ) -> dict[str, Any]:
        version = response.extensions.get("http_version", b"HTTP/1.1")
        return har_entry(
            started=started,
            time_ms=round(elapsed_ms, 3),
            method=request.method,
            url=str(request.url),
            request_headers=request.headers.multi_items(),
            query=request.url.params.multi_items(),
            status=response.status_code,
            status_text=response.reason_phrase,
            response_headers=response.headers.multi_items(),
            body=body,
            mime=response.headers.get("content-type", ""),
            redirect_url=response.headers.get("location", ""),
            http_version=version.decode() if isinstance(version, bytes) else str(version),
        )

    def write(self, path: str | Path, comment: str = "") -> None:
        """Write the exchanges so far as a HAR 1.2 file."""
        write_har(path, self.entries, comment)

    async def aclose(self) -> None:
        await self.inner.aclose()
