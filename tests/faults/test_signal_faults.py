"""SIGTERM, SIGINT (and SIGKILL) on every long-running command, as a user or a supervisor
sends them: the command stops with one line and exit 128 + signal (``process``: a clean stop,
exit 0), and leaves no process (Azurite, its guard, pool workers) and no queue or container
behind.

Each command runs as a real ``workbench`` process; the signal goes when its work is under way
(a line it prints says so). Storage: the session's Azurite through
``AZURE_STORAGE_CONNECTION_STRING``, or, for ``replay`` without it, the Azurite the command
starts for itself.
"""

from __future__ import annotations

import asyncio
import dataclasses
import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pipeline.storage import StorageAccount
from tests.faults._matrix import Row
from tests.faults._server import Answer, FaultServer, rss
from workbench.azurite import pid_alive
from workbench.paths import SHIPPED_RECORDING

SIGNAL_TIMEOUT_S = 60.0


@dataclasses.dataclass
class Stopped:
    code: int
    stderr: str
    tree: dict[int, str]  # the command's processes (pid -> command line) when signalled
    left: dict[int, str]  # ... still running after it exited
    seconds: float  # from the signal to the exit


def _processes() -> dict[int, tuple[int, int]]:
    """Every process: pid -> (parent pid, session id), from /proc."""
    found: dict[int, tuple[int, int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                found[int(entry.name)] = (int(fields[1]), int(fields[4]))
            except (OSError, IndexError, ValueError):
                continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return (Path("/proc") / str(pid) / "cmdline").read_text().replace("\0", " ").strip()
    except OSError:
        return ""


def _descendants(pid: int, sessions: set[int]) -> dict[int, str]:
    """``pid``'s descendants, and every process in ``sessions`` (Azurite's own session)."""
    processes = _processes()
    children: dict[int, list[int]] = {}
    for child, (parent, _) in processes.items():
        children.setdefault(parent, []).append(child)
    found, todo = {}, [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found[child] = _cmdline(child)
            todo.append(child)
    found.update({p: _cmdline(p) for p, (_, sid) in processes.items() if sid in sessions})
    return found


def run_and_signal(
    argv: list[str], ready: str, sig: signal.Signals, env: dict[str, str], cwd: Path
) -> Stopped:
    """Start ``workbench ARGV``, send ``sig`` once its stderr matches ``ready``, wait."""
    process = subprocess.Popen(
        [sys.executable, "-m", "workbench.cli", *argv], cwd=cwd, env=env,
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert process.stderr is not None
    seen = bytearray()
    matched = threading.Event()

    def read() -> None:
        assert process.stderr is not None
        while chunk := os.read(process.stderr.fileno(), 65536):
            seen.extend(chunk)
            if re.search(ready, seen.decode(errors="replace")):
                matched.set()
        matched.set()

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        assert matched.wait(SIGNAL_TIMEOUT_S), f"never ready: {seen.decode()[-2000:]}"
        assert process.poll() is None, f"ended before the signal: {seen.decode()[-2000:]}"
        sessions = {int(m) for m in re.findall(r"\(pid (\d+)\)", seen.decode())}
        tree = _descendants(process.pid, sessions)
        sent = time.monotonic()
        process.send_signal(sig)
        code = process.wait(SIGNAL_TIMEOUT_S)
        seconds = time.monotonic() - sent
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        reader.join(10)
        process.stderr.close()
    # A killed command's guard needs a moment to see that its pipe closed.
    deadline = time.monotonic() + (10 if sig == signal.SIGKILL else 0.5)
    while True:
        left = {p: c for p, c in tree.items() if pid_alive(p) and _cmdline(p) == c}
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    return Stopped(code, seen.decode(errors="replace"), tree, left, seconds)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    clean = {k: v for k, v in os.environ.items() if k != "AZURE_STORAGE_CONNECTION_STRING"}
    clean["WORKBENCH_STATE_DIR"] = str(tmp_path / "no-background-azurite")
    return clean


async def _workbench_resources(conn: str) -> set[str]:
    async with StorageAccount(conn) as account:
        return {*await account.list_queues("wb-"), *await account.list_containers("wb-")}


def _record(
    matrix: Any, fault: str, stopped: Stopped, exit_code: int, command: str, extra: str = "",
    left_storage: set[str] | None = None,
) -> None:  # fmt: skip
    lines = [x for x in stopped.stderr.strip().splitlines() if x.strip()]
    name = fault.split()[1]
    if command == "process":  # the processor's own stop line
        wanted = [x.split(" INFO ", 1)[-1] for x in lines if f"signal={name}" in x]
    else:
        wanted = [x for x in lines[-1:] if x == f"workbench {command}: interrupted by {name}"]
    clear = "Traceback" not in stopped.stderr and (len(wanted) == 1 or name == "SIGKILL")
    said = "nothing (killed)" if name == "SIGKILL" else f"'{wanted[0] if wanted else lines[-1:]}'"
    leftovers = len(stopped.left) + len(left_storage or ())
    row = Row(fault=fault, expected=None, queued=None, processed=None, lost=leftovers,
              processed_twice=0, queued_twice=None, clear_line=clear,
              seen=f"exit {stopped.code} in {stopped.seconds:.1f} s, said {said}; "
                   f"{len(stopped.tree)} child process(es), {len(stopped.left)} left; "
                   f"{len(left_storage or ())} queue(s)/container(s) left{extra}")  # fmt: skip
    assert stopped.code == exit_code, stopped.stderr[-3000:]
    assert not stopped.left, stopped.left
    assert not left_storage, left_storage
    matrix.record(row)


REPLAY = ["replay", "--recording", str(SHIPPED_RECORDING), "--speed", "5", "--processors", "1"]


@pytest.mark.parametrize(
    ("sig", "own_azurite"),
    [(signal.SIGTERM, True), (signal.SIGINT, False), (signal.SIGKILL, True)],
    ids=["SIGTERM", "SIGINT", "SIGKILL"],
)
def test_replay(
    sig: signal.Signals, own_azurite: bool, env: dict[str, str], connection_string: str,
    matrix: Any, tmp_path: Path,
) -> None:  # fmt: skip
    if not own_azurite:
        env["AZURE_STORAGE_CONNECTION_STRING"] = connection_string
    before = asyncio.run(_workbench_resources(connection_string))
    stopped = run_and_signal(REPLAY, r"collection_start", sig, env, tmp_path)
    left = asyncio.run(_workbench_resources(connection_string)) - before
    folders = re.findall(r"--location (\S+)", " ".join(stopped.tree.values()))
    assert not [f for f in folders if Path(f).exists()], "Azurite's folder left behind"
    name = (
        "SIGKILL on replay (Azurite's guard)" if sig == signal.SIGKILL else f"{sig.name} on replay"
    )
    extra = "; Azurite's folder removed" if own_azurite else ""
    _record(matrix, f"signal: {name}", stopped, -9 if sig == signal.SIGKILL else 128 + sig,
            "replay", extra, left)  # fmt: skip
    assert own_azurite == any("azurite" in c for c in stopped.tree.values())


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_report(
    sig: signal.Signals, env: dict[str, str], connection_string: str, matrix: Any, tmp_path: Path
) -> None:
    env["AZURE_STORAGE_CONNECTION_STRING"] = connection_string
    before = asyncio.run(_workbench_resources(connection_string))
    argv = ["report", "--recording", str(SHIPPED_RECORDING), "--speed", "5",
            "--out", str(tmp_path / "reports")]  # fmt: skip
    # The replay runs in notebook 02's kernel, which logs warnings only.
    stopped = run_and_signal(argv, r"batch: run 1/", sig, env, tmp_path)
    left = asyncio.run(_workbench_resources(connection_string)) - before
    kernels = sum("ipykernel" in c for c in stopped.tree.values())
    _record(matrix, f"signal: {sig.name} on report", stopped, 128 + sig, "report",
            f"; {kernels} notebook kernel(s) stopped", left)  # fmt: skip


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_process(
    sig: signal.Signals, env: dict[str, str], connection_string: str, matrix: Any,
    unique_name: str, tmp_path: Path,
) -> None:  # fmt: skip
    env["AZURE_STORAGE_CONNECTION_STRING"] = connection_string
    argv = ["process", "--queue", unique_name, "--results-container", f"{unique_name}-r"]
    stopped = run_and_signal(argv, r"event=processor_started", sig, env, tmp_path)
    asyncio.run(_drop(connection_string, unique_name))
    # A pod's normal stop: the processor finishes what it holds and exits 0.
    _record(matrix, f"signal: {sig.name} on process", stopped, 0, "process",
            "; exit 0 by design (a clean stop)")  # fmt: skip


async def _drop(conn: str, name: str) -> None:
    async with StorageAccount(conn) as account:
        await account.delete_queue(name)
        await account.delete_queue(f"{name}-poison")
        await account.delete_container(f"{name}-r")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_record(
    sig: signal.Signals, env: dict[str, str], matrix: Any, server: FaultServer, tmp_path: Path
) -> None:
    server.script("/fast.xml", [Answer(body=rss("fast.example", 3))])
    # The second run's feed takes long enough to be interrupted.
    server.script("/slow.xml", [Answer(body=rss("slow.example", 3)),
                                Answer(body=rss("slow.example", 3), delay_s=30)])  # fmt: skip
    (tmp_path / "sources.yaml").write_text(
        "sources:\n"
        f"  - {{name: fast, type: rss, url: '{server.base}/fast.xml'}}\n"
        f"  - {{name: slow, type: rss, url: '{server.base}/slow.xml', timeout_s: 60}}\n"
    )
    out = tmp_path / "recording"
    argv = ["record", "--sources", str(tmp_path / "sources.yaml"), "--out", str(out),
            "--runs", "2"]  # fmt: skip
    stopped = run_and_signal(argv, r"run 0: ", sig, env, tmp_path)
    from pipeline.recording import Recording

    kept = Recording.open(out)
    _record(matrix, f"signal: {sig.name} on record", stopped, 128 + sig, "record",
            f"; the recording keeps its {len(kept.runs)} completed run(s)")  # fmt: skip
    assert len(kept.runs) == 1


# Enough runs for a few seconds of work in small chunks (a chunk is runs / (jobs * 8)).
SIM = ["--arrivals", "poisson:2:600", "--jobs", "2"]


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
@pytest.mark.parametrize("command", ["sweep", "tune"])
def test_sweep_and_tune(
    command: str, sig: signal.Signals, env: dict[str, str], matrix: Any, tmp_path: Path
) -> None:
    argv = ([command, *SIM, "--seeds", "40", "--set", "queue_length=1,2,4,8,16,32",
             "--out", str(tmp_path / "s.csv")]
            if command == "sweep" else [command, *SIM, "--seeds", "1"])  # fmt: skip
    # Once a first chunk of runs is done: the pool's workers are all started by then (a signal
    # that lands while Python forks a worker is swallowed by the fork's own handlers).
    ready = r"sweep:\s+\d+%\|[^|]*\| [1-9]\d*/"  # tune's bar says sweep too
    stopped = run_and_signal(argv, ready, sig, env, tmp_path)
    workers = sum("multiprocessing" in c or "workbench.cli" in c for c in stopped.tree.values())
    _record(matrix, f"signal: {sig.name} on {command}", stopped, 128 + sig, command,
            f"; {workers} pool worker(s) stopped")  # fmt: skip
    assert not (tmp_path / "s.csv").exists()
