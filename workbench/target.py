"""Which storage account a command talks to: the environment's, a running Azurite, or its own."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

from pipeline.storage import CONNECTION_STRING_ENV, redact
from workbench.azurite import Azurite
from workbench.cmd_azurite import running_endpoint


@contextlib.contextmanager
def storage_connection(*, start_if_missing: bool = True) -> Iterator[tuple[str, str]]:
    """Yield ``(connection_string, description)``.

    ``AZURE_STORAGE_CONNECTION_STRING`` wins (production); else the Azurite started by
    ``workbench azurite start``; else, with ``start_if_missing``, an Azurite of our own that is
    stopped when the block ends. The description never holds the key.
    """
    from_env = os.environ.get(CONNECTION_STRING_ENV)
    if from_env:
        yield from_env, f"{CONNECTION_STRING_ENV} ({redact(_endpoints(from_env))})"
        return
    endpoint = running_endpoint()
    if endpoint is not None:
        yield endpoint.connection_string, f"running Azurite (pid {endpoint.pid})"
        return
    if not start_if_missing:
        from workbench.errors import WorkbenchError

        raise WorkbenchError(
            f"no storage: set {CONNECTION_STRING_ENV} or run `workbench azurite start`"
        )
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
