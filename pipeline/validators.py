"""Conditional requests: the ETag / Last-Modified validators of each source between runs.

A feed source sends ``If-None-Match`` / ``If-Modified-Since`` with the validators its previous
run received; the server answers ``304 Not Modified`` (a successful fetch with no items) when
nothing changed. The validators live in one small JSON blob, ``validators/sources.json``, in
the collection container next to the history: read when a run starts, written once the run has
queued and stored everything it collected. A run that fails writes nothing, so the next run
fetches in full and nothing it had not delivered is skipped.

Validators are kept per source name and URL: a source whose URL changed fetches in full.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Mapping
from typing import Any, Protocol

__all__ = [
    "VALIDATORS_BLOB",
    "Validator",
    "Validators",
    "load_validators",
    "save_validators",
]

log = logging.getLogger(__name__)

VALIDATORS_BLOB = "validators/sources.json"
_FORMAT = "source-validators/1"


class _JsonStore(Protocol):
    """What this module needs of ``pipeline.storage.BlobStore``."""

    async def read_bytes(self, blob: str) -> bytes | None: ...

    async def write_json(self, blob: str, data: Any) -> str: ...


@dataclasses.dataclass(frozen=True)
class Validator:
    """What a server said about the version of a URL it sent."""

    url: str
    etag: str | None = None
    last_modified: str | None = None

    def request_headers(self) -> dict[str, str]:
        headers = {}
        if self.etag:
            headers["If-None-Match"] = self.etag
        if self.last_modified:
            headers["If-Modified-Since"] = self.last_modified
        return headers


class Validators:
    """The validators of one run: those it started with and those its fetches received."""

    def __init__(self, previous: Mapping[str, Validator] | None = None) -> None:
        self.previous = dict(previous or {})
        self.received: dict[str, Validator] = {}

    def __len__(self) -> int:
        return len(self.merged())

    def request_headers(self, source_name: str, url: str) -> dict[str, str]:
        """The conditional headers for ``url`` of ``source_name`` (none for another URL)."""
        validator = self.previous.get(source_name)
        if validator is None or validator.url != url:
            return {}
        return validator.request_headers()

    def keep(self, source_name: str, url: str, headers: Mapping[str, str]) -> None:
        """Keep what a successful, fully parsed response of ``url`` said. A response without
        validators (e.g. a 304 that repeats none) keeps the previous ones for the same URL."""
        etag = headers.get("etag") or None
        last_modified = headers.get("last-modified") or None
        previous = self.previous.get(source_name)
        if previous is not None and previous.url == url:
            etag = etag or previous.etag
            last_modified = last_modified or previous.last_modified
        if etag or last_modified:
            self.received[source_name] = Validator(url, etag, last_modified)
        else:
            self.received.pop(source_name, None)

    def merged(self) -> dict[str, Validator]:
        """Every source's latest validators (received this run, else from before)."""
        return {**self.previous, **self.received}

    def to_json(self) -> dict[str, Any]:
        return {
            "format": _FORMAT,
            "sources": {name: dataclasses.asdict(v) for name, v in sorted(self.merged().items())},
        }

    @classmethod
    def from_json(cls, data: Any) -> Validators:
        """Read ``to_json``'s output; anything unreadable counts as no validators."""
        if not isinstance(data, dict) or data.get("format") != _FORMAT:
            return cls()
        sources = data.get("sources")
        previous: dict[str, Validator] = {}
        for name, value in sources.items() if isinstance(sources, dict) else ():
            if not isinstance(value, dict) or not isinstance(value.get("url"), str):
                continue
            etag, modified = value.get("etag"), value.get("last_modified")
            previous[str(name)] = Validator(
                value["url"],
                etag if isinstance(etag, str) else None,
                modified if isinstance(modified, str) else None,
            )
        return cls(previous)


async def load_validators(store: _JsonStore) -> Validators:
    """The validators saved by the previous run (none on a first run)."""
    content = await store.read_bytes(VALIDATORS_BLOB)
    if content is None:
        return Validators()
    try:
        data = json.loads(content)
    except ValueError:
        data = None
    validators = Validators.from_json(data)
    if not validators.previous and data != Validators().to_json():
        log.warning("validators_unreadable blob=%s: every feed is fetched in full", VALIDATORS_BLOB)
    return validators


async def save_validators(store: _JsonStore, validators: Validators) -> None:
    """Write the run's validators for the next run (only when there are any)."""
    if validators.received or validators.previous:
        await store.write_json(VALIDATORS_BLOB, validators.to_json())
