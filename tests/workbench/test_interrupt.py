"""A replay running in a worker thread (as from a notebook) stops, with its clean-up, when the
thread that started it is interrupted (``workbench.interrupt``); without it the replay ran on
to its end while the kernel was being shut down, and died there with its queues left."""

from __future__ import annotations

import asyncio
import os
import signal
import threading
import time

import pytest

from workbench.interrupt import call_in_thread, run


def test_an_interrupt_cancels_the_work_and_waits_for_its_clean_up() -> None:
    events: list[str] = []

    async def work() -> str:
        try:
            await asyncio.sleep(30)
            return "finished"
        finally:
            await asyncio.sleep(0.2)  # clean-up that takes a while (deleting queues)
            events.append("cleaned up")

    def in_worker() -> str:
        events.append("started")
        return run(work())

    # Ctrl-C, a real SIGINT as a kernel interrupt sends: the calling thread, blocked waiting for
    # the worker, gets KeyboardInterrupt.
    timer = threading.Timer(0.5, os.kill, (os.getpid(), signal.SIGINT))
    timer.start()
    started = time.monotonic()
    with pytest.raises(KeyboardInterrupt):
        call_in_thread(in_worker)
    assert events == ["started", "cleaned up"]
    assert time.monotonic() - started < 5


def test_without_an_interrupt_the_result_comes_back() -> None:
    async def work() -> int:
        await asyncio.sleep(0.01)
        return 42

    assert call_in_thread(lambda: run(work())) == 42
    assert run(work()) == 42  # in the main thread: plain asyncio.run
