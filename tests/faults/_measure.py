"""Run ``workbench`` in a process of its own and measure its wall time and its own peak memory.

The peak is the child's ``VmHWM`` read by the child at exit: ``ru_maxrss`` of a child started by
fork (as subprocess does) reports at least its parent's peak, here pytest's.
"""

from __future__ import annotations

import dataclasses
import subprocess
import sys
import time

_MARK = "peak-vmhwm-kb:"
_WRAPPER = f"""
import atexit, sys
from workbench.cli import main

def peak():
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            print("{_MARK}", line.split()[1], file=sys.stderr, flush=True)

atexit.register(peak)
sys.exit(main(sys.argv[1:]))
"""


@dataclasses.dataclass(frozen=True)
class Measured:
    code: int
    stdout: str
    stderr: str
    seconds: float
    peak_mb: float


def run_measured(argv: list[str], timeout_s: float = 300) -> Measured:
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-c", _WRAPPER, *argv], capture_output=True,
                          text=True, timeout=timeout_s, check=False)  # fmt: skip
    seconds = time.monotonic() - started
    lines = done.stderr.splitlines()
    peaks = [int(x.split()[1]) for x in lines if x.startswith(_MARK)]
    stderr = "\n".join(x for x in lines if not x.startswith(_MARK))
    assert peaks, f"no peak reported: {done.stderr[-2000:]}"
    return Measured(done.returncode, done.stdout, stderr, seconds, peaks[-1] / 1024)
