"""The guard that keeps an Azurite from outliving the workbench process that started it.

``python -m workbench._azurite_guard [--remove DIR] -- AZURITE-COMMAND...`` runs Azurite as its
child and reads its own stdin, a pipe whose only writer is the workbench. When the workbench
ends, however it ends (a clean stop, SIGTERM, SIGKILL, a crash), the kernel closes that pipe:
the guard sees end-of-file, stops Azurite (SIGTERM, then SIGKILL after 10 s), removes ``DIR``
(Azurite's temporary data folder) and exits. When Azurite exits by itself, the guard exits with
its code and leaves the folder (and the log in it) to the workbench.

The guard leads the process group Azurite runs in (a session of its own, so a Ctrl-C meant for
the workbench does not reach Azurite before the workbench has cleaned up its queues).
Standard library only: it starts in a few tens of milliseconds.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys
from collections.abc import Sequence
from types import FrameType

_POLL_S = 0.25
_STOP_TIMEOUT_S = 10.0


def main(argv: Sequence[str]) -> int:
    args = list(argv)
    remove = None
    if args[:1] == ["--remove"]:
        remove, args = args[1], args[2:]
    if args[:1] != ["--"] or len(args) < 2:
        print(
            "usage: python -m workbench._azurite_guard [--remove DIR] -- COMMAND...",
            file=sys.stderr,
        )
        return 2
    stopping = False

    def stop(signum: int, frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True

    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, stop)
    child = subprocess.Popen(args[1:], stdin=subprocess.DEVNULL)
    watched = sys.stdin.fileno()
    try:
        while not stopping and child.poll() is None:
            ready, _, _ = select.select([watched], [], [], _POLL_S)
            if ready and not os.read(watched, 4096):
                break  # end of file: the workbench is gone
        else:
            if not stopping:
                # Azurite ended by itself: the workbench, still there, reads its log and
                # removes the folder.
                return child.returncode if child.returncode and child.returncode > 0 else 1
    finally:
        if child.poll() is None:
            child.terminate()
            try:
                child.wait(_STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
    if remove:
        shutil.rmtree(remove, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
