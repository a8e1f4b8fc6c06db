"""``workbench azurite start|status|stop``: a background Azurite for interactive work.

State (pid, ports, data folder) lives in ``.workbench/azurite.json`` under the project root.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
from pathlib import Path
from typing import Any

from workbench.azurite import (
    PROJECT_ROOT,
    Azurite,
    AzuriteEndpoint,
    pid_alive,
    port_open,
    stop_process_group,
)

STATE_DIR = Path(os.environ.get("WORKBENCH_STATE_DIR") or PROJECT_ROOT / ".workbench")
STATE_FILE = STATE_DIR / "azurite.json"


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("azurite", help="start, inspect or stop a background Azurite")
    actions = parser.add_subparsers(dest="azurite_action", metavar="ACTION", required=True)
    actions.add_parser("start", help="start Azurite in the background").set_defaults(func=_start)
    actions.add_parser(
        "status", help="say whether it runs, and its connection string"
    ).set_defaults(func=_status)
    actions.add_parser("stop", help="stop it and remove its data").set_defaults(func=_stop)


def running_endpoint(state_file: Path = STATE_FILE) -> AzuriteEndpoint | None:
    """The background Azurite started by ``workbench azurite start``, if it still answers."""
    if not state_file.exists():
        return None
    try:
        state = json.loads(state_file.read_text())
        endpoint = AzuriteEndpoint(**state)
    except (ValueError, TypeError):
        return None
    if pid_alive(endpoint.pid) and port_open(endpoint.blob_port) and port_open(endpoint.queue_port):
        return endpoint
    return None


def _start(args: argparse.Namespace) -> int:
    endpoint = running_endpoint()
    if endpoint is not None:
        print(f"Azurite already running (pid {endpoint.pid})")
        print(endpoint.connection_string)
        return 0
    STATE_DIR.mkdir(parents=True, exist_ok=True)
    location = STATE_DIR / "azurite-data"
    azurite = Azurite(location=location, log_path=STATE_DIR / "azurite.log")
    endpoint = azurite.start()
    STATE_FILE.write_text(json.dumps(endpoint.__dict__))
    print(
        f"Azurite started (pid {endpoint.pid}, blob port {endpoint.blob_port}, "
        f"queue port {endpoint.queue_port})"
    )
    print(endpoint.connection_string)
    return 0


def _status(args: argparse.Namespace) -> int:
    endpoint = running_endpoint()
    if endpoint is None:
        print("Azurite is not running")
        return 1
    print(
        f"Azurite running (pid {endpoint.pid}, blob port {endpoint.blob_port}, "
        f"queue port {endpoint.queue_port})"
    )
    print(endpoint.connection_string)
    return 0


def _stop(args: argparse.Namespace) -> int:
    if not STATE_FILE.exists():
        print("Azurite is not running")
        return 0
    try:
        state = json.loads(STATE_FILE.read_text())
    except ValueError:
        state = {}
    pid = state.get("pid")
    if isinstance(pid, int) and pid_alive(pid):
        stop_process_group(pid)
        print(f"Azurite stopped (pid {pid})")
    else:
        print("Azurite was not running")
    if state.get("location"):
        shutil.rmtree(state["location"], ignore_errors=True)
    STATE_FILE.unlink(missing_ok=True)
    return 0
