"""One polite, bounded, retried GET: politeness, timeouts, size cap, backoff, Retry-After."""

from __future__ import annotations

import dataclasses
import email.utils
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.sources._common import server_error_text
from pipeline.sources._stats import SourceStats

log = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = frozenset({429, 503})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class SourceFetchError(Exception):
    """A request of a source failed for good; ``kind`` is one of ``ERROR_KINDS``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


@dataclasses.dataclass(frozen=True)
class Fetched:
    url: str
    status_code: int
    headers: httpx.Headers
    body: bytes

    def json(self) -> Any:
        import json

        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceFetchError("parse", f"{self.url}: invalid JSON: {exc}") from None


class Fetcher:
    """Makes one source's requests on the shared client, politely and with retries."""

    def __init__(
        self, client: httpx.AsyncClient, source: SourceConfig, clock: Clock, stats: SourceStats
    ) -> None:
        self.client = client
        self.source = source
        self.clock = clock
        self.stats = stats
        self._last_start: float | None = None
        # Seeded per source, so a replay backs off exactly as the recorded run did.
        self._rng = random.Random(f"backoff:{source.name}")

    async def _polite(self, extra_wait_s: float = 0.0) -> None:
        now = self.clock.task_time()
        wait = extra_wait_s
        if self._last_start is not None:
            wait = max(wait, self._last_start + self.source.politeness_interval_s - now)
        if wait > 0:
            await self.clock.sleep(wait)
        self._last_start = self.clock.task_time()

    def _backoff(self, attempt: int) -> float:
        base = min(self.source.backoff_max_s, self.source.backoff_base_s * 2 ** (attempt - 1))
        return base * (0.5 + self._rng.random() / 2)

    async def get(self, url: str, params: Mapping[str, Any] | None = None) -> Fetched:
        source = self.source
        headers = {"User-Agent": source.user_agent}
        wait = 0.0
        for attempt in range(1, source.max_attempts + 1):
            last = attempt == source.max_attempts
            await self._polite(wait)
            self.stats.requests += 1
            try:
                status, response_headers, body, final_url = await self._once(url, params, headers)
            except httpx.TimeoutException as exc:
                kind, message = "timeout", f"{url}: timed out ({type(exc).__name__})"
                retry_after = None
                retryable = True
            except (httpx.ConnectError, httpx.NetworkError, httpx.RemoteProtocolError) as exc:
                detail = str(exc) or "the connection was closed or reset"  # httpx may say nothing
                kind, message = "connect", f"{url}: {type(exc).__name__}: {detail}"
                retry_after = None
                retryable = True
            except httpx.HTTPError as exc:
                raise SourceFetchError("connect", f"{url}: {type(exc).__name__}: {exc}") from None
            else:
                self.stats.status_codes[status] += 1
                if status < 400:
                    return Fetched(final_url, status, response_headers, body)
                kind, message = "http_status", f"{url}: HTTP {status}{server_error_text(body)}"
                retryable = status in RETRY_STATUSES
                retry_after = (
                    parse_retry_after(response_headers.get("retry-after"))
                    if status in RETRY_AFTER_STATUSES
                    else None
                )
                if retry_after is not None and retry_after > source.max_retry_after_s:
                    raise SourceFetchError(
                        kind, f"{message} (Retry-After {retry_after:g} s is too long)"
                    )
            if not retryable or last:
                if attempt > 1:
                    message += f" after {attempt} attempts"
                raise SourceFetchError(kind, message)
            wait = retry_after if retry_after is not None else self._backoff(attempt)
            self.stats.retries += 1
            log.info(
                "source_retry source=%s attempt=%d reason=%s wait_s=%.2f url=%s",
                source.name,
                attempt,
                message,
                wait,
                url,
            )
        raise AssertionError("unreachable")  # pragma: no cover

    async def _once(
        self, url: str, params: Mapping[str, Any] | None, headers: dict[str, str]
    ) -> tuple[int, httpx.Headers, bytes, str]:
        cap = self.source.max_response_bytes
        async with self.client.stream(
            "GET",
            url,
            params=params,
            headers=headers,
            timeout=self.source.timeout_s,
            follow_redirects=True,
        ) as response:
            declared = response.headers.get("content-length")
            if declared and declared.isdigit() and int(declared) > cap:
                self.stats.status_codes[response.status_code] += 1
                raise SourceFetchError(
                    "too_large", f"{url}: body of {declared} bytes is over the cap of {cap}"
                )
            chunks: list[bytes] = []
            size = 0
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > cap:
                    self.stats.status_codes[response.status_code] += 1
                    raise SourceFetchError("too_large", f"{url}: body over the cap of {cap} bytes")
                chunks.append(chunk)
            self.stats.bytes_received += size
            return response.status_code, response.headers, b"".join(chunks), str(response.url)


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
