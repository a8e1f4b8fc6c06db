"""Small helpers for task groups."""

from __future__ import annotations

import asyncio
from typing import Any


def first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first real error of a task group (not a cancellation), for a one-line report."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]
