"""SIGTERM and SIGINT stop processors cleanly; a second signal aborts."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Callable, Iterable
from typing import Protocol

from pipeline.processor._records import log_line

log = logging.getLogger("pipeline.processor")


class Stoppable(Protocol):
    def request_stop(self, *, abort: bool = False) -> None: ...


def install_signal_handlers(
    processors: Iterable[Stoppable],
    signals: Iterable[signal.Signals] = (signal.SIGTERM, signal.SIGINT),
) -> Callable[[], None]:
    """Make SIGTERM/SIGINT stop every processor cleanly on the running loop; a second signal
    aborts (messages in progress are released). Returns a function that removes the handlers."""
    loop = asyncio.get_running_loop()
    targets = list(processors)
    installed = list(signals)
    received = 0

    def on_signal(signum: int) -> None:
        nonlocal received
        received += 1
        log.info(log_line("stop_signal", signal=signal.Signals(signum).name, count=received))
        for processor in targets:
            processor.request_stop(abort=received > 1)

    for sig in installed:
        loop.add_signal_handler(sig, on_signal, sig)

    def uninstall() -> None:
        for sig in installed:
            loop.remove_signal_handler(sig)

    return uninstall
