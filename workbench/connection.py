"""Which storage account a command talks to: the environment's, a running Azurite, or its own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from pipeline.storage import CONNECTION_STRING_ENV, redact
from workbench.azurite import Azurite, running_endpoint


def configured_connection(env_var: str = CONNECTION_STRING_ENV) -> tuple[str, str] | None:
    """``(connection_string, description)`` from ``env_var`` (production), else from the
    Azurite started by ``workbench azurite start``; None when neither is there. The description
    never holds the key."""
    from_env = os.environ.get(env_var, "").strip()
    if from_env:
        return from_env, f"{env_var} ({redact(_endpoints(from_env))})"
    endpoint = running_endpoint()
    if endpoint is not None:
        return endpoint.connection_string, f"running Azurite (pid {endpoint.pid})"
    return None


@contextlib.contextmanager
def storage_connection() -> Iterator[tuple[str, str]]:
    """Yield ``(connection_string, description)``: the configured storage, else an Azurite of
    our own that is stopped when the block ends."""
    configured = configured_connection()
    if configured is not None:
        yield configured
        return
    with Azurite() as azurite:
        yield (
            azurite.connection_string,
            f"Azurite started for this command (pid {azurite.endpoint.pid})",
        )


def _endpoints(conn: str) -> str:
    parts = [
        p
        for p in conn.split(";")
        if p.lower().startswith(("queueendpoint", "blobendpoint", "accountname"))
    ]
    return ";".join(parts) or "endpoints from account name"
