"""The project-managed Azurite: start, status, stop, and errors when it cannot start."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from pathlib import Path

import pytest

from pipeline.storage import StorageAccount
from workbench.azurite import Azurite, pid_alive, process_group_members, running_endpoint
from workbench.errors import WorkbenchError


async def _create_queue_and_container(conn: str) -> None:
    async with StorageAccount(conn) as account:
        await account.queue("cli-check").create_if_missing()
        await account.container("cli-check").create_if_missing()


def test_context_manager_starts_and_stops_the_whole_group(tmp_path: Path):
    with Azurite() as server:
        pid = server.endpoint.pid
        location = Path(server.endpoint.location)
        assert location.exists()
        asyncio.run(_create_queue_and_container(server.connection_string))
        assert process_group_members(pid)
    assert not process_group_members(pid)
    assert not location.exists()


def test_missing_binary_is_a_clear_error(tmp_path: Path):
    with pytest.raises(WorkbenchError, match="npm ci"):
        Azurite(binary=tmp_path / "no-azurite").start()


def test_failed_start_reports_the_log_tail(tmp_path: Path):
    fake = tmp_path / "azurite"
    fake.write_text("#!/bin/sh\necho 'node: cannot find module azurite' >&2\nexit 3\n")
    fake.chmod(0o755)
    with pytest.raises(WorkbenchError, match="cannot find module azurite"):
        Azurite(binary=fake).start()


def test_cli_start_status_stop(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    env = {**os.environ, "WORKBENCH_STATE_DIR": str(tmp_path / "state")}
    run = [sys.executable, "-m", "workbench.cli", "azurite"]
    started = subprocess.run([*run, "start"], env=env, capture_output=True, text=True, timeout=60)
    assert started.returncode == 0, started.stderr
    try:
        status = subprocess.run([*run, "status"], env=env, capture_output=True, text=True)
        assert status.returncode == 0, status.stderr
        conn = status.stdout.strip().splitlines()[-1]
        assert conn.startswith("DefaultEndpointsProtocol=http;")
        asyncio.run(_create_queue_and_container(conn))
        pid = int(started.stdout.split("pid ", 1)[1].split(",", 1)[0])
        assert pid_alive(pid)
    finally:
        stopped = subprocess.run([*run, "stop"], env=env, capture_output=True, text=True)
    assert stopped.returncode == 0, stopped.stderr
    assert not process_group_members(pid)
    after = subprocess.run([*run, "status"], env=env, capture_output=True, text=True)
    assert after.returncode == 1 and "not running" in after.stdout
    assert running_endpoint(tmp_path / "state" / "azurite.json") is None
