"""Storage resources the workbench makes for a run: names that can be found, and clean-up.

Every queue and container a replay (or any other workbench run) creates is named
``wb-<UTC creation time>-<label>-<8 hex digits>[-<role>]``, for example
``wb-20240514t060000-batch-1a2b3c4d-collected``: one common prefix, the time it was made, what
made it. A run deletes its resources when it ends, even on Ctrl-C or SIGTERM; a run killed
outright (SIGKILL, a crash, a lost machine) leaves them, and ``workbench storage list`` /
``workbench storage clean`` find them by that prefix.
"""

from __future__ import annotations

import dataclasses
import re
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from pipeline.storage import StorageAccount

PREFIX = "wb-"
_TIME_FORMAT = "%Y%m%dt%H%M%S"
_NAME_RE = re.compile(r"^wb-(\d{8}t\d{6})-([a-z0-9-]+?)(?:-(poison|collected|processed))?$")
_LABEL_CHARS = re.compile(r"[^a-z0-9]+")
_MAX_LABEL = 24  # keeps every name within the service's 63 characters


def run_base_name(label: str, now: datetime | None = None) -> str:
    """A fresh ``wb-<time>-<label>-<token>`` for one run's resources."""
    when = (now or datetime.now(UTC)).astimezone(UTC)
    clean = _LABEL_CHARS.sub("-", label.lower()).strip("-")[:_MAX_LABEL].strip("-") or "run"
    return f"{PREFIX}{when:{_TIME_FORMAT}}-{clean}-{uuid.uuid4().hex[:8]}"


@dataclasses.dataclass(frozen=True)
class RunResource:
    """One queue or container a workbench run made."""

    kind: str  # queue | container
    name: str
    created_at: datetime
    run: str  # the run's base name (shared by its queues and containers)

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.created_at


def parse_resource(kind: str, name: str) -> RunResource | None:
    """The resource behind ``name``, or None when the workbench did not name it."""
    match = _NAME_RE.match(name)
    if match is None:
        return None
    try:
        created = datetime.strptime(match.group(1), _TIME_FORMAT).replace(tzinfo=UTC)
    except ValueError:
        return None
    run = name[: len(name) - len(match.group(3)) - 1] if match.group(3) else name
    return RunResource(kind=kind, name=name, created_at=created, run=run)


async def list_run_resources(account: StorageAccount) -> list[RunResource]:
    """Every queue and container named by the workbench, oldest first."""
    found = [parse_resource("queue", name) for name in await account.list_queues(PREFIX)]
    found += [parse_resource("container", name) for name in await account.list_containers(PREFIX)]
    return sorted((r for r in found if r is not None), key=lambda r: (r.created_at, r.name))


def older_than(
    resources: Iterable[RunResource], age: timedelta, now: datetime | None = None
) -> list[RunResource]:
    now = now or datetime.now(UTC)
    return [r for r in resources if r.age(now) >= age]


async def remove(account: StorageAccount, resource: RunResource) -> None:
    if resource.kind == "queue":
        await account.delete_queue(resource.name)
    else:
        await account.delete_container(resource.name)


_DURATION_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*$")
_UNIT_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta:
    """``90``, ``90s``, ``30m``, ``2h``, ``7d``: a finite duration >= 0."""
    match = _DURATION_RE.match(text.lower())
    if match is None:
        raise ValueError(f"expected a duration such as 90s, 30m, 2h or 7d, got {text!r}")
    return timedelta(seconds=float(match.group(1)) * _UNIT_SECONDS[match.group(2)])


def describe_age(age: timedelta) -> str:
    """``45s``, ``12.5m``, ``3.0h``, ``2.1d``."""
    seconds = max(0.0, age.total_seconds())
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds / size:.1f}{unit}"
    return f"{seconds:.0f}s"
