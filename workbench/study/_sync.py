"""Run blocking code that uses ``asyncio.run`` from a notebook, whose kernel already runs an
event loop in the main thread."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import ParamSpec, TypeVar

from workbench.interrupt import call_in_thread

_P = ParamSpec("_P")
_T = TypeVar("_T")


def call(fn: Callable[_P, _T], *args: _P.args, **kwargs: _P.kwargs) -> _T:
    """``fn(*args, **kwargs)``, in a worker thread when this thread runs an event loop."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return fn(*args, **kwargs)
    # Interruptible: a kernel interrupt cancels a replay there and waits for its clean-up.
    return call_in_thread(fn, *args, **kwargs)
