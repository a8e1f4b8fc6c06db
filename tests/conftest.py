"""Shared fixtures: a real Azurite for the whole session, and asyncio for anyio-marked tests.

Async tests are written ``@pytest.mark.anyio async def test_...`` (anyio's pytest plugin).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

from workbench.azurite import Azurite, process_group_members

# Tests talk to the Azurite started here, never to a storage account from the environment.
os.environ.pop("AZURE_STORAGE_CONNECTION_STRING", None)


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--update-reliability-doc",
        action="store_true",
        help="write the fault matrix measured by tests/faults into docs/reliability.md",
    )


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def azurite() -> Iterator[Azurite]:
    """One Azurite for the test session, stopped (whole process group) at the end."""
    server = Azurite()
    pid = server.start().pid
    try:
        yield server
    finally:
        server.stop()
        # The session's last check: nothing the tests started is left running.
        left = process_group_members(pid)
        assert not left, f"Azurite processes still running after the session: {left}"


@pytest.fixture
def connection_string(azurite: Azurite) -> str:
    return azurite.connection_string


@pytest.fixture
def unique_name() -> str:
    """A fresh queue/container name (lowercase, 3-63 chars) per test."""
    return "t" + uuid.uuid4().hex[:20]
