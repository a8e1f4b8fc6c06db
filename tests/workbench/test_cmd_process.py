"""``workbench process``: connection lookup, argument errors, a run to idle exit, and SIGTERM."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from pipeline.items import ContentItem
from pipeline.messages import build_message, encode_message
from pipeline.storage import StorageAccount
from workbench import cli, cmd_process, connection
from workbench.azurite import Azurite
from workbench.errors import WorkbenchError
from workbench.paths import PROJECT_ROOT as ROOT

# The real front door, with only this command registered (independent of the other modules).
_MAIN = (
    "import sys; from workbench import cli; "
    "cli.COMMAND_MODULES = ('workbench.cmd_process',); sys.exit(cli.main(sys.argv[1:]))"
)


@pytest.fixture
def main(monkeypatch: pytest.MonkeyPatch) -> Callable[[list[str]], int]:
    monkeypatch.setattr(cli, "COMMAND_MODULES", ("workbench.cmd_process",))
    return cli.main


@pytest.fixture
def no_background_azurite(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(connection, "running_endpoint", lambda *a, **k: None)


def _message(number: int) -> str:
    item = ContentItem.create(
        source="mastodon",
        source_name="fosstodon-python",
        source_id=f"https://fosstodon.org/users/a/statuses/{number}",
        url=f"https://fosstodon.org/@a/{number}",
        title=f"Toot {number} about processing queues",
        body=f"Toot {number}. It has two sentences.",
        author="a",
        published_at=datetime(2024, 1, 1, tzinfo=UTC),
    )
    message = build_message(
        item, collection_id="c", collection_blob="collections/c.jsonl", mode="batch"
    )
    return encode_message(message)


async def _send(conn: str, queue: str, count: int) -> None:
    async with StorageAccount(conn) as account:
        adapter = await account.queue(queue).create_if_missing()
        for number in range(count):
            await adapter.send(_message(number))


async def _state(conn: str, queue: str, container: str) -> tuple[int, int, int]:
    async with StorageAccount(conn) as account:
        return (
            await account.queue(queue).approximate_count(),
            await account.queue(f"{queue}-poison").approximate_count(),
            len(await account.container(container).list()),
        )


def test_without_storage_says_what_to_do(main, no_background_azurite, capsys):
    assert main(["process", "--idle-exit", "0"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err
    assert err.startswith("workbench process: error: no storage to connect to")
    assert "AZURE_STORAGE_CONNECTION_STRING" in err and "workbench azurite start" in err


@pytest.mark.parametrize(
    ("args", "what"),
    [
        (
            ["--service-time", "normal(1)"],
            "argument --service-time: distribution 'normal(1)': unknown distribution 'normal'",
        ),
        (["--service-time", "lognormal(mean=6)"], "missing sd"),
        (["--concurrency", "0"], "--concurrency must be >= 1"),
        (["--batch-size", "33"], "--batch-size must be 1-32"),
        (["--speed", "0"], "argument --speed: must be a finite number > 0"),
    ],
)
def test_bad_arguments_are_one_line_errors(main, no_background_azurite, capsys, args, what):
    # No storage is configured: an argument error must be found before storage is looked up.
    try:
        code = main(["process", *args])
    except SystemExit as exc:  # argparse's own errors (after its usage line)
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    [line] = [line for line in err.splitlines() if "error:" in line]
    assert line.startswith("workbench process: error: ") and what in line, err
    assert args[0] in line  # the flag is named
    assert "Traceback" not in err


def test_connection_falls_back_to_the_background_azurite(
    monkeypatch: pytest.MonkeyPatch, azurite: Azurite
):
    monkeypatch.setattr(connection, "running_endpoint", lambda *a, **k: azurite.endpoint)
    assert cmd_process.connection_string_for("NO_SUCH_VAR_FOR_TEST") == azurite.connection_string
    monkeypatch.setenv("NO_SUCH_VAR_FOR_TEST", "AccountName=x;AccountKey=y")
    assert cmd_process.connection_string_for("NO_SUCH_VAR_FOR_TEST").startswith("AccountName=x")
    monkeypatch.setattr(connection, "running_endpoint", lambda *a, **k: None)
    monkeypatch.delenv("NO_SUCH_VAR_FOR_TEST")
    with pytest.raises(WorkbenchError, match="set NO_SUCH_VAR_FOR_TEST"):
        cmd_process.connection_string_for("NO_SUCH_VAR_FOR_TEST")


def test_processes_the_queue_and_exits_when_idle(
    main, no_background_azurite, monkeypatch, capsys, connection_string: str, unique_name: str
):
    asyncio.run(_send(connection_string, unique_name, 3))
    monkeypatch.setenv("MY_STORAGE", connection_string)
    code = main(
        [
            "process",
            "--queue",
            unique_name,
            "--results-container",
            f"{unique_name}-out",
            "--connection-string-env",
            "MY_STORAGE",
            "--concurrency",
            "2",
            "--service-time",
            "lognormal(mean=6,sd=2)",
            "--speed",
            "100",
            "--idle-exit",
            "2",
        ]
    )
    assert code == 0
    out = capsys.readouterr().out
    assert out.startswith("processed 3, duplicate 0, poisoned 0, invalid 0, released 0")
    assert "speed 100" in out
    assert asyncio.run(_state(connection_string, unique_name, f"{unique_name}-out")) == (0, 0, 3)


def _wait_for_text(path: Path, text: str, proc: subprocess.Popen[str], timeout_s: float) -> None:
    deadline = time.monotonic() + timeout_s
    while text not in path.read_text():
        if proc.poll() is not None:
            raise AssertionError(f"exited {proc.returncode} early:\n{path.read_text()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"no {text!r} after {timeout_s} s:\n{path.read_text()}")
        time.sleep(0.05)


def test_sigterm_finishes_the_message_in_hand_and_exits_0(
    tmp_path: Path, connection_string: str, unique_name: str
):
    asyncio.run(_send(connection_string, unique_name, 1))
    env = {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": connection_string}
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "-v", "process", "--queue", unique_name]
            + ["--results-container", f"{unique_name}-out", "--service-time", "constant(1.5)"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            _wait_for_text(stderr_path, "event=batch_received", proc, timeout_s=20)
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=15)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    log = stderr_path.read_text()
    assert proc.returncode == 0, log
    assert "event=stop_signal signal=SIGTERM" in log
    assert out.startswith("processed 1, duplicate 0, poisoned 0, invalid 0, released 0"), log
    assert "AccountKey" not in log
    assert asyncio.run(_state(connection_string, unique_name, f"{unique_name}-out")) == (0, 0, 1)


def test_sigterm_when_idle_exits_0(tmp_path: Path, connection_string: str, unique_name: str):
    env = {**os.environ, "AZURE_STORAGE_CONNECTION_STRING": connection_string}
    stderr_path = tmp_path / "stderr.log"
    with stderr_path.open("w") as stderr:
        proc = subprocess.Popen(
            [sys.executable, "-c", _MAIN, "process", "--queue", unique_name],
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
        )
        try:
            _wait_for_text(stderr_path, "event=processor_started", proc, timeout_s=20)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            out, _ = proc.communicate(timeout=10)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert proc.returncode == 0, stderr_path.read_text()
    assert time.monotonic() - started < 5
    assert out.startswith("processed 0,")
