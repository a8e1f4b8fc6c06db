"""Small helpers for task groups and bounded concurrency."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, TypeVar

T = TypeVar("T")
A = TypeVar("A")


def first_error(group: BaseExceptionGroup[Any]) -> BaseException:
    """The first real error of a task group (not a cancellation), for a one-line report."""
    for exc in group.exceptions:
        if isinstance(exc, BaseExceptionGroup):
            return first_error(exc)
        if not isinstance(exc, asyncio.CancelledError):
            return exc
    return group.exceptions[0]


async def gather_bounded(
    limit: int, job: Callable[[A], Awaitable[T]], args: Iterable[A]
) -> list[T]:
    """``job(arg)`` for every arg, at most ``limit`` at a time; results in the args' order."""
    semaphore = asyncio.Semaphore(limit)

    async def run(arg: A) -> T:
        async with semaphore:
            return await job(arg)

    return list(await asyncio.gather(*(run(arg) for arg in args)))
