"""``workbench azurite start|status|stop``: a background Azurite for interactive work.

State (pid, ports, data folder) lives in ``workbench.paths.STATE_DIR`` (``.workbench/`` under
the project root unless ``WORKBENCH_STATE_DIR`` says otherwise).
"""

from __future__ import annotations

import argparse
from typing import Any

from workbench.azurite import AzuriteEndpoint, running_endpoint, start_background, stop_background


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("azurite", help="start, inspect or stop a background Azurite")
    actions = parser.add_subparsers(dest="azurite_action", metavar="ACTION", required=True)
    actions.add_parser("start", help="start Azurite in the background").set_defaults(func=_start)
    actions.add_parser(
        "status", help="say whether it runs, and its connection string"
    ).set_defaults(func=_status)
    actions.add_parser("stop", help="stop it and remove its data").set_defaults(func=_stop)


def _describe(verb: str, endpoint: AzuriteEndpoint) -> None:
    print(
        f"Azurite {verb} (pid {endpoint.pid}, blob port {endpoint.blob_port}, "
        f"queue port {endpoint.queue_port})"
    )
    print(endpoint.connection_string)


def _start(args: argparse.Namespace) -> int:
    endpoint, started_now = start_background()
    _describe("started" if started_now else "already running", endpoint)
    return 0


def _status(args: argparse.Namespace) -> int:
    endpoint = running_endpoint()
    if endpoint is None:
        print("Azurite is not running")
        return 1
    _describe("running", endpoint)
    return 0


def _stop(args: argparse.Namespace) -> int:
    pid = stop_background()
    print(f"Azurite stopped (pid {pid})" if pid is not None else "Azurite is not running")
    return 0
