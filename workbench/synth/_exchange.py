"""Requests in time: latency models, one source's request schedule, HAR entries.

A source's requests are placed as its collector makes them: one after another, the next one
starting when the previous answered, no sooner than the source's politeness interval after
the previous start, and after a ``Retry-After`` wait when one was asked for.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.utils import format_datetime
from typing import Any
from urllib.parse import urlsplit

from pipeline.config import SourceConfig
from pipeline.har import har_entry


@dataclass(frozen=True)
class LogNormal:
    """Seconds a request takes: log-normal around ``median_s``, clipped to [low_s, high_s]."""

    median_s: float
    sigma: float
    low_s: float
    high_s: float

    def sample(self, rng: random.Random) -> float:
        drawn = rng.lognormvariate(math.log(self.median_s), self.sigma)
        return min(self.high_s, max(self.low_s, drawn))


@dataclass(frozen=True)
class Uniform:
    """Seconds a request takes: uniform in [low_s, high_s] (a slow origin, every run)."""

    low_s: float
    high_s: float

    def sample(self, rng: random.Random) -> float:
        return rng.uniform(self.low_s, self.high_s)


Latency = LogNormal | Uniform


@dataclass(frozen=True)
class Plan:
    """How many items a source shows per run and how many come back from the last run."""

    size: int
    carry: float  # fraction of the previous run's items shown again


@dataclass
class Exchange:
    url: str
    status: int
    headers: list[tuple[str, str]]
    body: bytes
    latency_s: float
    mime: str
    retry_after_s: float | None = None
    base64_body: bool = False
    compressed: bool = False


def _timings(rng: random.Random, total_ms: float, first: bool) -> dict[str, float]:
    connect = round(total_ms * rng.uniform(0.08, 0.15), 3) if first else -1
    ssl = round(connect * 0.6, 3) if first else -1
    dns = round(rng.uniform(2, 20), 3) if first else -1
    send = 0.2
    receive = round(total_ms * rng.uniform(0.05, 0.2), 3)
    used = sum(v for v in (connect, dns, send, receive) if v > 0)
    wait = round(max(0.0, total_ms - used), 3)
    return {"blocked": -1, "dns": dns, "connect": connect, "ssl": ssl,
            "send": send, "wait": wait, "receive": receive}  # fmt: skip


def _fake_ip(host: str) -> str:
    h = sum(host.encode()) % 200
    return f"151.101.{h}.{(h * 7) % 250 + 1}"


class RequestSchedule:
    """Places one source's requests in time as its collector would make them."""

    def __init__(self, source: SourceConfig, run_start: datetime, rng: random.Random) -> None:
        self.source = source
        self.run_start = run_start
        self.rng = rng
        self.t = 0.0
        self.last_start: float | None = None
        self.wait_s = 0.0
        self.entries: list[dict[str, Any]] = []

    def add(self, exchange: Exchange) -> None:
        if exchange.latency_s >= self.source.timeout_s:
            # The collector would time out and retry: a request the recording cannot answer.
            raise ValueError(
                f"{self.source.name}: latency {exchange.latency_s:.1f} s reaches the source's "
                f"timeout of {self.source.timeout_s:g} s"
            )
        start = self.t + self.wait_s
        if self.last_start is not None:
            start = max(start, self.last_start + self.source.politeness_interval_s)
        self.last_start = start
        self.t = start + exchange.latency_s
        self.wait_s = exchange.retry_after_s or 0.0
        self.entries.append(self._entry(start, exchange))

    def _entry(self, start: float, ex: Exchange) -> dict[str, Any]:
        when = self.run_start + timedelta(seconds=start)
        total_ms = round(ex.latency_s * 1000, 3)
        host = urlsplit(ex.url).hostname or ""
        date = format_datetime(when + timedelta(seconds=ex.latency_s * 0.7), usegmt=True)
        headers = [("date", date), *ex.headers]
        wire_size = None
        if ex.compressed:
            wire_size = int(len(ex.body) * 0.28)
            headers.append(("content-encoding", "gzip"))
        headers.append(("content-length", str(len(ex.body) if wire_size is None else wire_size)))
        return har_entry(
            started=when,
            time_ms=total_ms,
            url=ex.url,
            request_headers=[
                ("host", urlsplit(ex.url).netloc),
                ("accept", "*/*"),
                ("accept-encoding", "gzip, deflate"),
                ("connection", "keep-alive"),
                ("user-agent", self.source.user_agent),
            ],
            status=ex.status,
            response_headers=headers,
            body=ex.body,
            mime=ex.mime,
            base64_body=ex.base64_body,
            wire_size=wire_size,
            timings=_timings(self.rng, total_ms, first=len(self.entries) == 0),
            server_ip=_fake_ip(host),
            connection="443",
        )


def rfc822(when: datetime) -> str:
    return format_datetime(when, usegmt=True)


def iso(when: datetime) -> str:
    return when.isoformat().replace("+00:00", "Z")
