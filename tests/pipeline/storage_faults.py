"""Storage faults injected below the project's adapters: an Azure SDK transport that answers
chosen requests with a real HTTP error from a local fault server (or a refused connection), so
the SDK's own retries and error parsing, and the adapters' error classification, all run.

A rule sees each request (method, URL, headers) and returns a ``Fault`` or None (pass through
to Azurite). Use ``faulty_transport`` as the ``transport=`` of an SDK client, and build the
project's ``QueueAdapter`` / ``BlobStore`` on that client.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import AsyncIterator, Callable
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from aiohttp import web
from azure.core.pipeline.transport import AioHttpTransport

from pipeline.storage import StorageAccount
from workbench.azurite import free_port


@dataclasses.dataclass(frozen=True)
class Fault:
    """An HTTP error as Azure Storage sends it (``status`` None: the connection is refused)."""

    status: int | None
    code: str = ""
    message: str = ""


REFUSED = Fault(None)


def server_busy() -> Fault:
    return Fault(503, "ServerBusy", "The server is currently unable to receive requests.")


def block_count_exceeded() -> Fault:
    return Fault(
        409,
        "BlockCountExceedsLimit",
        "The committed block count cannot exceed the maximum limit of 50,000 blocks.",
    )


Rule = Callable[[str, str, dict[str, str]], Fault | None]


class FaultyTransport(AioHttpTransport):
    """The SDK's aiohttp transport; requests a rule picks go to the fault server instead."""

    def __init__(self, rule: Rule, fault_server: str, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.rule = rule
        self.fault_server = fault_server  # host:port answering with the fault
        self.refused = f"127.0.0.1:{free_port()}"  # nothing listens there
        self.faults = 0

    async def send(self, request: Any, **config: Any) -> Any:
        fault = self.rule(request.method, request.url, dict(request.headers))
        if fault is not None:
            self.faults += 1
            parts = urlsplit(request.url)
            target = self.refused if fault.status is None else self.fault_server
            request.headers["x-fault"] = f"{fault.status}|{fault.code}|{fault.message}"
            request.url = urlunsplit(parts._replace(netloc=target))
        return await super().send(request, **config)


async def _answer(request: web.Request) -> web.Response:
    status, code, message = request.headers["x-fault"].split("|", 2)
    body = (
        '<?xml version="1.0" encoding="utf-8"?>'
        f"<Error><Code>{code}</Code><Message>{message}</Message></Error>"
    )
    return web.Response(
        status=int(status),
        text=body,
        content_type="application/xml",
        headers={"x-ms-error-code": code, "x-ms-request-id": "fault"},
    )


@contextlib.asynccontextmanager
async def fault_server() -> AsyncIterator[str]:
    """A local HTTP server (127.0.0.1, a free port) answering every request with the fault its
    ``x-fault`` header names; yields ``host:port``."""
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", _answer)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    try:
        host, port = runner.addresses[0][:2]
        yield f"{host}:{port}"
    finally:
        await runner.cleanup()


def is_append_block(method: str, url: str, suffix: str) -> bool:
    parts = urlsplit(url)
    return method == "PUT" and "comp=appendblock" in parts.query and parts.path.endswith(suffix)


def is_queue_send(method: str, url: str) -> bool:
    return method == "POST" and urlsplit(url).path.endswith("/messages")


def is_visibility_update(method: str, url: str, timeout_s: int) -> bool:
    """A queue message's visibility set to ``timeout_s`` (a processor's lease renewal)."""
    parts = urlsplit(url)
    return (
        method == "PUT"
        and "/messages/" in parts.path
        and "popreceipt=" in parts.query
        and f"visibilitytimeout={timeout_s}" in parts.query.split("&")
    )


def message_not_found() -> Fault:
    return Fault(404, "MessageNotFound", "The specified message does not exist.")


class FaultyAccount(StorageAccount):
    """The project's storage account whose SDK clients send through one ``FaultyTransport``
    (the account has no transport option of its own; its client options are set here, once),
    with the SDK's own retries off unless ``retries`` is given."""

    def __init__(self, connection_string: str, rule: Rule, server: str, *, retries: int = 0):
        super().__init__(connection_string)
        self.transport = FaultyTransport(rule, server)
        self.client_options = {
            **self.client_options,
            "transport": self.transport,
            "retry_total": retries,
        }
