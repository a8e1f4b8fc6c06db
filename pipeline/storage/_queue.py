"""A Storage Queue with JSON-in-base64 messages."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.storage.queue import TextBase64EncodePolicy
from azure.storage.queue.aio import QueueClient, QueueServiceClient

from pipeline.errors import MessageTooLargeError
from pipeline.storage._errors import raise_storage_error

MAX_MESSAGE_BYTES = 65536  # the service's limit on a message once encoded
MAX_RECEIVE_BATCH = 32  # the service's limit on messages per receive


@dataclass(frozen=True, slots=True)
class ReceivedMessage:
    """A message taken from a queue; ``content`` is None when it was not base64 of UTF-8 text,
    and ``content_error`` then says which of the two it was not."""

    id: str
    pop_receipt: str
    dequeue_count: int
    content: str | None
    raw_content: str
    inserted_on: datetime | None
    next_visible_on: datetime | None
    content_error: str | None = None

    def json(self) -> Any:
        if self.content is None:
            raise ValueError(f"message {self.id}: {self.content_error or 'no text content'}")
        return json.loads(self.content)


def decode_base64_text(raw: str) -> tuple[str | None, str | None]:
    """``(text, None)`` for base64 of UTF-8 text, else ``(None, what is wrong)``.

    Strict where the SDK's ``TextBase64DecodePolicy`` is lenient (it drops characters that are
    not base64 and fails a whole receive on a bad one); whitespace, as line-wrapped base64
    has, is allowed.
    """
    try:
        data = base64.b64decode("".join(raw.split()), validate=True)
    except ValueError:
        return None, "message is not base64 (content-item/v1 messages are base64 JSON)"
    try:
        return data.decode("utf-8"), None
    except UnicodeDecodeError as exc:
        return None, (
            f"message is base64 of bytes that are not UTF-8 text "
            f"(byte 0x{data[exc.start]:02x} at offset {exc.start})"
        )


class QueueAdapter:
    """A Storage Queue with JSON-in-base64 messages (as Azure Functions expect)."""

    def __init__(self, service: QueueServiceClient, name: str, endpoint: str) -> None:
        self.name = name
        self.endpoint = endpoint
        self._what = f"queue {name!r}"
        self._client: QueueClient = service.get_queue_client(
            name, message_encode_policy=TextBase64EncodePolicy()
        )
        # Received raw and decoded here (``decode_base64_text``): the SDK's decode policy fails
        # a whole receive (with AttributeError) on one message that is not base64.
        self._raw_client: QueueClient = service.get_queue_client(name)

    async def create_if_missing(self) -> QueueAdapter:
        try:
            await self._client.create_queue()
        except ResourceExistsError:
            pass
        except AzureError as exc:
            raise_storage_error(exc, self._what, self.endpoint)
        return self

    @staticmethod
    def encoded_size(text: str) -> int:
        """Bytes the message takes on the wire once base64-encoded."""
        return 4 * ((len(text.encode("utf-8")) + 2) // 3)

    def check_size(self, text: str) -> None:
        size = self.encoded_size(text)
        if size > MAX_MESSAGE_BYTES:
            raise MessageTooLargeError(
                f"{self._what}: message is {size} bytes once base64-encoded, over the "
                f"{MAX_MESSAGE_BYTES}-byte limit"
            )

    async def send(
        self, content: str | dict[str, Any], *, visibility_timeout: int | None = None
    ) -> str:
        """Send one message (a dict is sent as compact JSON); returns its id."""
        text = content if isinstance(content, str) else json.dumps(content, separators=(",", ":"))
        self.check_size(text)
        try:
            sent = await self._client.send_message(text, visibility_timeout=visibility_timeout)
        except AzureError as exc:
            raise_storage_error(exc, self._what, self.endpoint)
        return str(sent.id)

    async def receive(
        self, max_messages: int = MAX_RECEIVE_BATCH, *, visibility_timeout: int = 30
    ) -> list[ReceivedMessage]:
        """Take up to ``max_messages`` (1-32) visible messages, hiding them for the timeout."""
        if not 1 <= max_messages <= MAX_RECEIVE_BATCH:
            raise ValueError(f"max_messages must be 1-{MAX_RECEIVE_BATCH}, got {max_messages}")
        out: list[ReceivedMessage] = []
        try:
            pages = self._raw_client.receive_messages(
                messages_per_page=max_messages,
                max_messages=max_messages,
                visibility_timeout=visibility_timeout,
            ).by_page()
            page = await pages.__anext__()
            async for msg in page:
                out.append(self._wrap(msg))
        except StopAsyncIteration:
            pass
        except AzureError as exc:
            raise_storage_error(exc, self._what, self.endpoint)
        return out

    def _wrap(self, msg: Any) -> ReceivedMessage:
        raw = msg.content if isinstance(msg.content, str) else str(msg.content)
        content, error = decode_base64_text(raw)
        return ReceivedMessage(
            id=msg.id,
            pop_receipt=msg.pop_receipt,
            dequeue_count=int(msg.dequeue_count or 0),
            content=content,
            raw_content=raw,
            inserted_on=msg.inserted_on,
            next_visible_on=msg.next_visible_on,
            content_error=error,
        )

    async def delete(self, message: ReceivedMessage) -> None:
        try:
            await self._raw_client.delete_message(message.id, message.pop_receipt)
        except AzureError as exc:
            raise_storage_error(exc, f"{self._what} (delete message {message.id})", self.endpoint)

    async def update_visibility(
        self, message: ReceivedMessage, visibility_timeout: int
    ) -> ReceivedMessage:
        """Hide the message for ``visibility_timeout`` more seconds; returns it with its new receipt."""
        try:
            updated = await self._raw_client.update_message(
                message.id, message.pop_receipt, visibility_timeout=visibility_timeout
            )
        except AzureError as exc:
            raise_storage_error(exc, f"{self._what} (update message {message.id})", self.endpoint)
        return ReceivedMessage(
            id=message.id,
            pop_receipt=str(updated.pop_receipt),
            dequeue_count=message.dequeue_count,
            content=message.content,
            raw_content=message.raw_content,
            inserted_on=message.inserted_on,
            next_visible_on=updated.next_visible_on,
            content_error=message.content_error,
        )

    async def approximate_count(self) -> int:
        """Visible and in-flight messages (what KEDA's `all` strategy reports)."""
        try:
            props = await self._client.get_queue_properties()
        except AzureError as exc:
            raise_storage_error(exc, self._what, self.endpoint)
        return int(props.approximate_message_count or 0)

    async def close(self) -> None:
        await self._client.close()
        await self._raw_client.close()
