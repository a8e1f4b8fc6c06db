"""One polite, bounded, retried GET: politeness, timeouts, size cap, backoff, Retry-After.

Shared by every source on one client (so by every caller: collection runs, ``record``,
``inspect``):

* **Requests in flight** are bounded per client (``MAX_REQUESTS_IN_FLIGHT``, about the size of
  httpx's connection pool): hundreds of sources do not queue hundreds of requests in the pool,
  whose bookkeeping then costs more than the requests.
* **Rate-limit headers** (``X-RateLimit-Remaining`` / ``-Reset``, as Reddit and Mastodon send
  them) are kept per host. Once the remaining budget falls to a reserve (a tenth of the limit,
  or ``RATE_LIMIT_RESERVE`` requests when the limit is not sent), the host's next requests are
  spread evenly over the time left in the window; with none left they wait for the reset.
* **Retry-After** counts as seconds or as an HTTP date relative to the response's own
  ``Date`` header, so a replayed old recording waits what was recorded.
* **Reddit's 403** on its listing endpoints is how it throttles clients: retried with back-off
  and reported as ``throttled``, unless the body names a reason (a private or quarantined
  subreddit), which is a real ``http_status`` error.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import email.utils
import json
import logging
import random
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import httpx

from pipeline.clock import Clock
from pipeline.config import SourceConfig
from pipeline.sources._common import server_error_text
from pipeline.sources._gate import ParseGate
from pipeline.sources._stats import SourceStats
from pipeline.validators import Validators

log = logging.getLogger(__name__)

RETRY_AFTER_STATUSES = frozenset({429, 503})
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
MAX_REQUESTS_IN_FLIGHT = 100  # httpx's default pool holds 100 connections
RATE_LIMIT_RESERVE = 10  # requests kept in reserve when a host does not send its limit


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
        try:
            return json.loads(self.body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise SourceFetchError("parse", f"{self.url}: invalid JSON: {exc}") from None


@dataclasses.dataclass
class _HostBudget:
    """A host's rate-limit window as its last response described it; times on the clock."""

    remaining: float | None = None
    limit: float | None = None
    reset_at: float = 0.0
    next_slot: float = 0.0

    def update(self, headers: httpx.Headers, now: float) -> None:
        remaining = _number(headers.get("x-ratelimit-remaining"))
        reset_s = _reset_seconds(headers)
        if remaining is None or reset_s is None:
            return
        used = _number(headers.get("x-ratelimit-used"))
        limit = _number(headers.get("x-ratelimit-limit"))
        self.remaining = remaining
        self.limit = (
            limit if limit is not None else (used + remaining if used is not None else None)
        )
        self.reset_at = now + reset_s

    def wait(self, now: float) -> float:
        """Clock seconds to wait before the next request to this host (and count it)."""
        if self.remaining is None or now >= self.reset_at:
            return 0.0
        if self.remaining < 1:
            return self.reset_at - now
        left = self.remaining
        self.remaining = left - 1  # until the response tells the server's count
        reserve = max(1.0, self.limit / 10) if self.limit else RATE_LIMIT_RESERVE
        if left > reserve:
            return 0.0
        slot = max(now, self.next_slot)
        self.next_slot = slot + (self.reset_at - slot) / left  # even spacing to the reset
        return slot - now


class _Shared:
    """What the sources of one client share: request slots and hosts' rate-limit budgets."""

    def __init__(self, limit: int) -> None:
        self.slots = asyncio.Semaphore(limit)
        self.hosts: dict[str, _HostBudget] = {}


_SHARED: weakref.WeakKeyDictionary[httpx.AsyncClient, _Shared] = weakref.WeakKeyDictionary()


def limit_requests_in_flight(client: httpx.AsyncClient, limit: int) -> None:
    """Set how many requests the sources on ``client`` make at once (before its first use)."""
    if limit < 1:
        raise ValueError(f"requests in flight must be >= 1, got {limit}")
    _SHARED[client] = _Shared(limit)


def _shared(client: httpx.AsyncClient) -> _Shared:
    shared = _SHARED.get(client)
    if shared is None:
        shared = _SHARED[client] = _Shared(MAX_REQUESTS_IN_FLIGHT)
    return shared


class Fetcher:
    """Makes one source's requests on the shared client, politely and with retries."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        source: SourceConfig,
        clock: Clock,
        stats: SourceStats,
        validators: Validators | None = None,
        *,
        parse_gate: ParseGate | None = None,
    ) -> None:
        self.client = client
        self.source = source
        self.clock = clock
        self.stats = stats
        self.validators = validators if source.conditional_requests else None
        self.parse_gate = parse_gate
        self._shared = _shared(client)
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

    async def parse_turn(self) -> None:
        """Return once the response may be parsed: at once unless ``parse_gate`` is closed."""
        if self.parse_gate is not None:
            await self.parse_gate.wait_open()

    def parsing(self) -> contextlib.AbstractContextManager[None]:
        """Announce, for the block, a parse off the loop of the response received at the
        task's current schedule time (``ParseGate.parsing``)."""
        if self.parse_gate is None:
            return contextlib.nullcontext()
        return self.parse_gate.parsing(self.clock.task_time())

    def _backoff(self, attempt: int) -> float:
        base = min(self.source.backoff_max_s, self.source.backoff_base_s * 2 ** (attempt - 1))
        return base * (0.5 + self._rng.random() / 2)

    def keep_validators(self, url: str, fetched: Fetched) -> None:
        """Keep a fully handled response's validators for the next run's conditional GET."""
        if self.validators is not None:
            self.validators.keep(self.source.name, url, fetched.headers)

    def _budget_wait(self, url: str) -> float:
        host = httpx.URL(url).host
        budget = self._shared.hosts.setdefault(host, _HostBudget())
        wait = budget.wait(self.clock.task_time())
        if wait > self.source.max_retry_after_s:
            raise SourceFetchError(
                "throttled",
                f"{url}: {host}'s rate limit is spent; it resets in {wait:.0f} s, over "
                f"max_retry_after_s ({self.source.max_retry_after_s:g} s)",
            )
        return wait

    async def get(
        self, url: str, params: Mapping[str, Any] | None = None, *, conditional: bool = False
    ) -> Fetched:
        """GET ``url``; ``conditional``: send the previous run's validators (a 304 comes back
        as a ``Fetched`` with status 304 and no body)."""
        source = self.source
        headers = {"User-Agent": source.user_agent}
        if conditional and self.validators is not None:
            headers.update(self.validators.request_headers(source.name, url))
        wait = 0.0
        for attempt in range(1, source.max_attempts + 1):
            last = attempt == source.max_attempts
            await self._polite(max(wait, self._budget_wait(url)))
            self.stats.requests += 1
            try:
                async with self._shared.slots:
                    status, response_headers, body, final_url = await self._once(
                        url, params, headers
                    )
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
                self._shared.hosts.setdefault(httpx.URL(final_url).host, _HostBudget()).update(
                    response_headers, self.clock.task_time()
                )
                if status < 400:
                    await self.parse_turn()  # the caller parses it next
                    return Fetched(final_url, status, response_headers, body)
                kind, message = "http_status", f"{url}: HTTP {status}{server_error_text(body)}"
                retryable = status in RETRY_STATUSES
                if status == 429 or self._reddit_throttle(status, body):
                    kind, retryable = "throttled", True
                    if status == 403:
                        message += " (Reddit's answer to too many requests)"
                retry_after = (
                    parse_retry_after(
                        response_headers.get("retry-after"), response_headers.get("date")
                    )
                    if status in RETRY_AFTER_STATUSES or kind == "throttled"
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

    def _reddit_throttle(self, status: int, body: bytes) -> bool:
        """A Reddit 403 without a stated reason (a private or quarantined subreddit names one)."""
        if status != 403 or self.source.type != "reddit":
            return False
        try:
            doc = json.loads(body)
        except (ValueError, UnicodeDecodeError):
            return True
        return not (isinstance(doc, dict) and doc.get("reason"))

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


def http_date(value: str | None) -> datetime | None:
    """An HTTP date (RFC 9110: IMF-fixdate, RFC 850 or asctime) in UTC, or None."""
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


def parse_retry_after(value: str | None, date: str | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header: delta seconds, or an HTTP date counted
    from the response's own ``Date`` header (``date``; the wall clock when it has none)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    when = http_date(value)
    if when is None:
        return None
    now = http_date(date) or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())


def _number(value: str | None) -> float | None:
    try:
        return float(value) if value is not None else None
    except ValueError:
        return None


def _reset_seconds(headers: httpx.Headers) -> float | None:
    """``X-RateLimit-Reset`` in seconds from now: Reddit sends seconds, Mastodon an ISO 8601
    time (counted from the response's ``Date``, so replays wait what was recorded)."""
    value = headers.get("x-ratelimit-reset")
    seconds = _number(value)
    if seconds is not None or not value:
        return seconds
    try:
        when = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when
    now = http_date(headers.get("date")) or datetime.now(UTC)
    return max(0.0, (when - now).total_seconds())
