"""Start and stop a project-local Azurite (the Azure Storage emulator) on free loopback ports.

The binary comes from ``node_modules/.bin`` (installed by ``npm ci``, pinned in package.json).
Data goes to a temporary ``--location`` folder (in-memory mode stalls on large deletes).
The server runs in its own process group, so ``stop()`` ends node and all its children.

An Azurite a command starts for itself never outlives the command, however it ends: it runs
under a guard (``workbench._azurite_guard``) that holds a pipe from this process and, when the
pipe closes (a clean stop, SIGTERM, SIGKILL, a crash), stops Azurite and removes its data
folder. Only the background Azurite of ``workbench azurite start`` runs unguarded, on purpose.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from workbench.errors import WorkbenchError
from workbench.paths import AZURITE_BIN, AZURITE_STATE_FILE, PROJECT_ROOT, STATE_DIR

_GUARD = Path(__file__).with_name("_azurite_guard.py")

# The well-known development account Azurite serves (public, documented by Microsoft).
DEV_ACCOUNT = "devstoreaccount1"
DEV_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="


def connection_string(blob_port: int, queue_port: int, host: str = "127.0.0.1") -> str:
    return (
        "DefaultEndpointsProtocol=http;"
        f"AccountName={DEV_ACCOUNT};AccountKey={DEV_KEY};"
        f"BlobEndpoint=http://{host}:{blob_port}/{DEV_ACCOUNT};"
        f"QueueEndpoint=http://{host}:{queue_port}/{DEV_ACCOUNT};"
    )


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def port_open(port: int, host: str = "127.0.0.1", timeout: float = 0.2) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass(frozen=True)
class AzuriteEndpoint:
    """Where a running Azurite listens."""

    pid: int
    blob_port: int
    queue_port: int
    location: str

    @property
    def connection_string(self) -> str:
        return connection_string(self.blob_port, self.queue_port)


class Azurite:
    """A running Azurite; use as a context manager or call ``start()`` / ``stop()``.

    ``binary`` defaults to the project's ``node_modules/.bin/azurite``.
    """

    def __init__(
        self,
        binary: Path | str | None = None,
        *,
        location: Path | str | None = None,
        start_timeout_s: float = 30.0,
        log_path: Path | str | None = None,
        guard: bool = True,
    ) -> None:
        self.binary = Path(binary) if binary else AZURITE_BIN
        self.guard = guard  # stop with this process, whatever ends it (see the module doc)
        self._own_location = location is None
        self.location = Path(location) if location else None
        self.start_timeout_s = start_timeout_s
        self.log_path = Path(log_path) if log_path else None
        self.process: subprocess.Popen[bytes] | None = None
        self.blob_port = 0
        self.queue_port = 0

    @property
    def endpoint(self) -> AzuriteEndpoint:
        if self.process is None:
            raise WorkbenchError("Azurite is not started")
        return AzuriteEndpoint(
            self.process.pid, self.blob_port, self.queue_port, str(self.location)
        )

    @property
    def connection_string(self) -> str:
        return self.endpoint.connection_string

    def start(self) -> AzuriteEndpoint:
        """Start the server and wait until both ports answer.

        The server runs in a session of its own. Guarded (the default), it stops when this
        process ends; unguarded, it outlives this process unless ``stop()`` is called
        (``workbench azurite start`` relies on that).
        """
        if not self.binary.exists():
            raise WorkbenchError(
                f"Azurite not installed at {self.binary}: run `npm ci` in {PROJECT_ROOT} "
                "(make test and make report do it for you)"
            )
        if shutil.which("node") is None:
            raise WorkbenchError("Node.js (`node`) is not on PATH; Azurite needs it")
        if self.location is None:
            self.location = Path(tempfile.mkdtemp(prefix="workbench-azurite-"))
        self.location.mkdir(parents=True, exist_ok=True)
        log_path = self.log_path or (self.location / "azurite.log")
        if not (self.blob_port and self.queue_port):  # started again: the same ports
            self.blob_port, self.queue_port = free_port(), free_port()
            while self.queue_port == self.blob_port:
                self.queue_port = free_port()
        cmd = [
            str(self.binary),
            "--silent",
            "--loose",
            "--skipApiVersionCheck",
            "--disableTelemetry",
            "--location",
            str(self.location),
            "--blobHost",
            "127.0.0.1",
            "--blobPort",
            str(self.blob_port),
            "--queueHost",
            "127.0.0.1",
            "--queuePort",
            str(self.queue_port),
            "--tableHost",
            "127.0.0.1",
            "--tablePort",
            str(free_port()),
        ]
        if self.guard:
            remove = ["--remove", str(self.location)] if self._own_location else []
            cmd = [sys.executable, str(_GUARD), *remove, "--", *cmd]
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                # The guard's pipe: its only writer is this process (see the module doc).
                stdin=subprocess.PIPE if self.guard else subprocess.DEVNULL,
                start_new_session=True,  # own process group: stop() kills node and children
                close_fds=True,
            )
        try:
            return self._wait_until_ready(log_path)
        except BaseException:  # Ctrl-C or SIGTERM while starting, or a failed start
            self.stop()
            raise

    def _wait_until_ready(self, log_path: Path) -> AzuriteEndpoint:
        assert self.process is not None
        deadline = time.monotonic() + self.start_timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WorkbenchError(
                    f"Azurite exited with code {self.process.returncode} during start-up; "
                    f"last log lines: {_tail(log_path)}"
                )
            if port_open(self.blob_port) and port_open(self.queue_port):
                return self.endpoint
            time.sleep(0.05)
        raise WorkbenchError(
            f"Azurite did not open ports {self.blob_port}/{self.queue_port} within "
            f"{self.start_timeout_s:g} s; last log lines: {_tail(log_path)}"
        )

    def stop(self) -> None:
        """Stop the whole process group and remove the data folder if we made it."""
        process, self.process = self.process, None
        if process is not None and process.stdin is not None:
            # Guarded: closing the pipe makes the guard stop Azurite and remove its folder.
            # The guard, not yet reaped, keeps its pid (the group's id) from being reused.
            with contextlib.suppress(OSError):
                process.stdin.close()
            deadline = time.monotonic() + 15.0
            while process_group_members(process.pid) and time.monotonic() < deadline:
                time.sleep(0.02)
            with contextlib.suppress(ProcessLookupError):
                if process_group_members(process.pid):
                    os.killpg(process.pid, signal.SIGKILL)
            process.wait()
        elif process is not None:
            stop_process_group(process.pid)
            with contextlib.suppress(Exception):
                process.wait(timeout=10)
        self._cleanup_location()

    def _cleanup_location(self) -> None:
        if self._own_location and self.location is not None:
            shutil.rmtree(self.location, ignore_errors=True)
            self.location = None

    def __enter__(self) -> Azurite:
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


# -- the background Azurite of ``workbench azurite start`` ------------------------------------


def running_endpoint(state_file: Path = AZURITE_STATE_FILE) -> AzuriteEndpoint | None:
    """The background Azurite started by ``workbench azurite start``, if it still answers."""
    if not state_file.exists():
        return None
    try:
        endpoint = AzuriteEndpoint(**json.loads(state_file.read_text()))
    except (ValueError, TypeError):
        return None
    if pid_alive(endpoint.pid) and port_open(endpoint.blob_port) and port_open(endpoint.queue_port):
        return endpoint
    return None


def start_background(state_dir: Path = STATE_DIR) -> tuple[AzuriteEndpoint, bool]:
    """Start the background Azurite unless it runs; ``(endpoint, started_now)``."""
    state_file = state_dir / AZURITE_STATE_FILE.name
    endpoint = running_endpoint(state_file)
    if endpoint is not None:
        return endpoint, False
    state_dir.mkdir(parents=True, exist_ok=True)
    azurite = Azurite(
        location=state_dir / "azurite-data", log_path=state_dir / "azurite.log", guard=False
    )
    endpoint = azurite.start()
    state_file.write_text(json.dumps(endpoint.__dict__))
    return endpoint, True


def stop_background(state_dir: Path = STATE_DIR) -> int | None:
    """Stop the background Azurite and remove its data; the pid stopped, or None."""
    state_file = state_dir / AZURITE_STATE_FILE.name
    if not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
    except ValueError:
        state = {}
    pid = state.get("pid")
    stopped = None
    if isinstance(pid, int) and pid_alive(pid):
        stop_process_group(pid)
        stopped = pid
    if state.get("location"):
        shutil.rmtree(state["location"], ignore_errors=True)
    state_file.unlink(missing_ok=True)
    return stopped


def stop_process_group(pid: int, timeout_s: float = 10.0) -> None:
    """SIGTERM the process group led by ``pid``, then SIGKILL what is left after a deadline."""
    try:
        pgid = os.getpgid(pid)
    except ProcessLookupError:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGTERM)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not _group_alive(pgid):
            return
        time.sleep(0.05)
    with contextlib.suppress(ProcessLookupError):
        os.killpg(pgid, signal.SIGKILL)


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie leader still counts as a member until reaped; reap it if it is our child.
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(-pgid, os.WNOHANG)
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return _group_has_live_members(pgid)


def _group_has_live_members(pgid: int) -> bool:
    if not Path("/proc").exists():
        return True
    return bool(process_group_members(pgid))


def process_group_members(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[-1].split()
        except OSError:
            continue
        if len(fields) > 2 and int(fields[2]) == pgid and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def _tail(path: Path, lines: int = 10) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"
