"""Where sweeps run: local processes, or a Dask distributed cluster given by its scheduler address.

The simulation's sweep takes any ``concurrent.futures`` executor; a Dask ``Client`` provides one.
Every worker needs this project installed (the same version), since it runs ``sim`` itself.
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from contextlib import contextmanager

from workbench.errors import WorkbenchError

CONNECT_TIMEOUT_S = 10


@contextmanager
def sweep_executor(scheduler: str | None) -> Iterator[tuple[Executor | None, int | None]]:
    """``(executor, worker threads)`` for ``sim.sweep``: ``(None, None)`` without a scheduler
    (local processes), else an executor on the Dask cluster at ``scheduler``
    (``tcp://host:8786``), closed on exit."""
    if scheduler is None:
        yield None, None
        return
    from distributed import Client

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise WorkbenchError(f"--scheduler {scheduler}: cannot reach it ({reason})") from None
    try:
        workers = client.scheduler_info()["workers"]
        threads = sum(int(w.get("nthreads", 1)) for w in workers.values())
        if threads == 0:
            raise WorkbenchError(f"--scheduler {scheduler}: the cluster has no workers")
        yield client.get_executor(), threads
    finally:
        client.close()
