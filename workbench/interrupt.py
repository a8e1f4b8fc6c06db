"""Ctrl-C and SIGTERM for work that runs ``asyncio.run`` in a worker thread.

A notebook's kernel already runs an event loop in its main thread, so a replay started from a
notebook runs in a worker thread (``call_in_thread``), where no signal reaches it: when the
kernel is interrupted (Jupyter's stop button, or ``workbench report`` stopping its kernels), the
main thread gets ``KeyboardInterrupt`` while the replay would run on to its end, and a kernel
shut down a few seconds later would die with the replay's queues and containers still there.

``run(coro)`` is ``asyncio.run(coro)`` that, in a worker thread, cancels ``coro`` (so its
``finally`` blocks clean up) when the thread that started it with ``call_in_thread`` is
interrupted, or when the main thread ends.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable, Coroutine
from typing import Any, ParamSpec, TypeVar

_P = ParamSpec("_P")
_T = TypeVar("_T")

_POLL_S = 0.1
_CLEAN_UP_S = 60.0  # how long an interrupted caller waits for the worker to clean up
_local = threading.local()


def run(coro: Coroutine[Any, Any, _T]) -> _T:
    """``asyncio.run(coro)``; in a worker thread, cancelled on an interrupt of its caller."""
    if threading.current_thread() is threading.main_thread():
        return asyncio.run(coro)
    stop: threading.Event = getattr(_local, "stop", None) or threading.Event()
    return asyncio.run(_cancelled_on(stop, coro))


async def _cancelled_on(stop: threading.Event, coro: Coroutine[Any, Any, _T]) -> _T:
    task = asyncio.ensure_future(coro)

    async def watch() -> None:
        while not stop.is_set() and threading.main_thread().is_alive():
            await asyncio.sleep(_POLL_S)
        task.cancel()

    watcher = asyncio.ensure_future(watch())
    try:
        return await task
    finally:
        watcher.cancel()


def call_in_thread(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``fn(*args, **kwargs)`` in a worker thread; an interrupt of this thread (Ctrl-C,
    ``KeyboardInterrupt``) cancels the ``run`` inside it, waits for its clean-up, then goes on."""
    stop = threading.Event()

    def in_worker() -> _T:
        _local.stop = stop
        try:
            return fn(*args, **kwargs)
        finally:
            _local.stop = None

    pool = concurrent.futures.ThreadPoolExecutor(1, thread_name_prefix="workbench-call")
    try:
        future = pool.submit(in_worker)
        try:
            return future.result()
        except BaseException:
            stop.set()
            concurrent.futures.wait([future], timeout=_CLEAN_UP_S)
            raise
    finally:
        pool.shutdown(wait=False)
