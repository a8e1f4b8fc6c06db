"""Storage adapters against the session's real Azurite."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import aiohttp.client
import pytest
from azure.storage.queue.aio import QueueClient

from pipeline.errors import (
    MessageTooLargeError,
    StorageAuthError,
    StorageError,
    StorageUnavailableError,
)
from pipeline.storage import MAX_MESSAGE_BYTES, ETagConflictError, StorageAccount, redact
from workbench.azurite import DEV_KEY, connection_string, free_port

pytestmark = pytest.mark.anyio


async def test_queue_round_trip_is_base64_on_the_wire(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        payload = {"schema": "content-item/v1", "title": "héllo <world> & co"}
        await queue.send(payload)

        async with QueueClient.from_connection_string(connection_string, unique_name) as plain:
            peeked = await plain.peek_messages()
        assert len(peeked) == 1
        wire = peeked[0].content
        assert json.loads(base64.b64decode(wire).decode("utf-8")) == payload

        [received] = await queue.receive(32, visibility_timeout=30)
        assert received.json() == payload
        assert received.dequeue_count == 1
        await queue.delete(received)
        assert await queue.approximate_count() == 0


async def test_oversized_message_refused_before_sending(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        text = "x" * 49_153  # 49,152 raw bytes is the most that fits once base64-encoded
        with pytest.raises(MessageTooLargeError) as info:
            await queue.send(text)
        message = str(info.value)
        assert "65536" in message and str(queue.encoded_size(text)) in message
        assert await queue.approximate_count() == 0
        await queue.send("y" * 49_152)  # exactly at the limit goes through
        assert queue.encoded_size("y" * 49_152) == MAX_MESSAGE_BYTES


async def test_undeleted_message_comes_back_with_dequeue_count_2(
    connection_string: str, unique_name: str
):
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        await queue.send("again")
        [first] = await queue.receive(1, visibility_timeout=1)
        assert first.dequeue_count == 1
        second = []
        deadline = asyncio.get_running_loop().time() + 15
        while not second and asyncio.get_running_loop().time() < deadline:
            second = await queue.receive(1, visibility_timeout=30)
            if not second:
                await asyncio.sleep(0.1)
        assert second, "message did not reappear after its visibility timeout"
        assert second[0].id == first.id
        assert second[0].dequeue_count == 2
        assert second[0].content == "again"


async def test_update_visibility_gives_a_new_receipt(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        await queue.send("renew me")
        [msg] = await queue.receive(1, visibility_timeout=5)
        renewed = await queue.update_visibility(msg, 60)
        assert renewed.pop_receipt != msg.pop_receipt
        await queue.delete(renewed)
        assert await queue.approximate_count() == 0


async def test_non_base64_message_is_received_not_fatal(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        async with QueueClient.from_connection_string(connection_string, unique_name) as plain:
            await plain.send_message("not base64 at all!")
        await queue.send("fine")
        received = await queue.receive(32)
        contents = sorted((m.content or "<none>") for m in received)
        assert contents == ["<none>", "fine"]


async def test_append_blob_jsonl_1000_records_in_order(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        store = await account.container(unique_name).create_if_missing()
        records = [{"n": i, "text": f"record {i}"} for i in range(1000)]
        for start in range(0, 1000, 100):  # ten appends, as a streaming run would do
            await store.append_jsonl("collection.jsonl", records[start : start + 100])
        assert await store.read_jsonl("collection.jsonl") == records


async def test_utf8_lines_with_unicode_line_separators_read_back_whole(
    connection_string: str, unique_name: str
):
    """Collection lines are UTF-8 JSON, so a string may hold U+2028, U+0085 or a form feed as
    they are: only a newline ends a line."""
    records = [{"text": f"a\u2028b\u2029c\x85d\x0ce {i} \u00e9"} for i in range(3)]
    lines = [(json.dumps(r, ensure_ascii=False) + "\n").encode() for r in records]
    async with StorageAccount(connection_string) as account:
        store = await account.container(unique_name).create_if_missing()
        await store.append_jsonl("c.jsonl", lines)
        assert await store.read_jsonl("c.jsonl") == records
        await store.append_jsonl("c.jsonl", [b"not json\n"])
        with pytest.raises(StorageError, match="line 4 is not valid JSON"):
            await store.read_jsonl("c.jsonl")


async def test_concurrent_appends_lose_nothing(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        store = await account.container(unique_name).create_if_missing()
        await asyncio.gather(
            *(
                store.append_jsonl("h.jsonl", [{"w": w, "i": i}])
                for w in range(8)
                for i in range(10)
            )
        )
        got = await store.read_jsonl("h.jsonl")
        assert sorted((r["w"], r["i"]) for r in got) == [
            (w, i) for w in range(8) for i in range(10)
        ]


async def test_json_blob_etag_conditions(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        store = await account.container(unique_name).create_if_missing()
        assert await store.read_json("state.json") == (None, None)
        etag = await store.write_json("state.json", {"v": 1}, create_only=True)
        with pytest.raises(ETagConflictError):
            await store.write_json("state.json", {"v": 0}, create_only=True)
        data, read_etag = await store.read_json("state.json")
        assert data == {"v": 1} and read_etag == etag
        await store.write_json("state.json", {"v": 2}, etag=etag)
        with pytest.raises(ETagConflictError):
            await store.write_json("state.json", {"v": 3}, etag=etag)  # stale ETag
        assert (await store.read_json("state.json"))[0] == {"v": 2}


async def test_list_by_prefix(connection_string: str, unique_name: str):
    async with StorageAccount(connection_string) as account:
        store = await account.container(unique_name).create_if_missing()
        for name in ("a/1.json", "a/2.json", "b/1.json"):
            await store.write_json(name, {})
        assert [b.name for b in await store.list("a/")] == ["a/1.json", "a/2.json"]
        assert await store.delete("a/1.json") is True
        assert await store.delete("a/1.json") is False


async def test_wrong_key_raises_our_error_without_the_key(
    azurite, unique_name: str, caplog: pytest.LogCaptureFixture
):
    wrong_key = base64.b64encode(b"definitely-not-the-key-" * 3).decode()
    conn = connection_string(azurite.blob_port, azurite.queue_port).replace(DEV_KEY, wrong_key)
    caplog.set_level(logging.DEBUG)
    async with StorageAccount(conn) as account:
        with pytest.raises(StorageAuthError) as info:
            await account.queue(unique_name).create_if_missing()
        with pytest.raises(StorageAuthError) as blob_info:
            await account.container(unique_name).create_if_missing()
    for error in (info.value, blob_info.value):
        assert wrong_key not in str(error) and wrong_key not in repr(error)
        assert "authentication" in str(error)
    assert unique_name in str(info.value)
    assert wrong_key not in caplog.text
    assert wrong_key not in repr(account)


async def test_unreachable_storage_names_the_endpoint(unique_name: str):
    port = free_port()
    async with StorageAccount(connection_string(port, port)) as account:
        queue = account.queue(unique_name)
        with pytest.raises(StorageUnavailableError) as info:
            await queue.send("x")
    assert f"127.0.0.1:{port}" in str(info.value) and "Azurite" in str(info.value)
    assert DEV_KEY not in str(info.value)


def test_redact_hides_keys_and_signatures():
    text = "AccountKey=abc123==;x https://a/b?sv=1&sig=SECRET%3D&se=2"
    assert redact(text) == "AccountKey=***;x https://a/b?sv=1&sig=***&se=2"
    assert redact("SharedAccessSignature=sv=1&sig=S3cr%2B;QueueEndpoint=x") == (
        "SharedAccessSignature=***;QueueEndpoint=x"
    )
    assert redact("accountkey=k1 https://q/x?SIG=s2") == "accountkey=*** https://q/x?SIG=***"
    assert redact("Authorization: SharedKey devstoreaccount1:c2lnbmF0dXJl x") == (
        "Authorization: SharedKey devstoreaccount1:*** x"
    )
    clean = "queue 'orders' not found at http://127.0.0.1:10001/devstoreaccount1"
    assert redact(clean) == clean


# -- the environment's proxy and .netrc settings, read once ------------------------------------
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


@pytest.fixture
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path) -> pytest.MonkeyPatch:
    """No proxy variables and a home without .netrc: what the account sees is set per test."""
    for name in _PROXY_VARIABLES:
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.upper(), raising=False)
    monkeypatch.delenv("NETRC", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    return monkeypatch


@pytest.fixture
def proxy_lookups(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The URLs aiohttp looked up a proxy for in the environment (a spy on its helper)."""
    calls: list[str] = []
    real = aiohttp.client.get_env_proxy_for_url

    def noting(url: Any) -> Any:
        calls.append(str(url))
        return real(url)

    monkeypatch.setattr(aiohttp.client, "get_env_proxy_for_url", noting)
    return calls


async def test_without_a_proxy_or_netrc_requests_do_not_read_the_environment(
    connection_string: str, unique_name: str, clean_environment, proxy_lookups: list[str]
):
    clean_environment.setenv("HTTP_PROXY", "http://proxy.invalid:3128")
    clean_environment.setenv("NO_PROXY", "127.0.0.1,localhost")  # ... but not for this host
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        await queue.send("x")
        assert await queue.approximate_count() == 1
        await account.delete_queue(unique_name)
    assert proxy_lookups == []


async def test_a_netrc_file_keeps_the_sdk_reading_the_environment(
    connection_string: str, unique_name: str, clean_environment, tmp_path, proxy_lookups
):
    (tmp_path / ".netrc").write_text("machine other.example login u password p\n")
    async with StorageAccount(connection_string) as account:
        queue = await account.queue(unique_name).create_if_missing()
        await queue.send("x")
        await account.delete_queue(unique_name)
    assert proxy_lookups  # per request, as the SDK does by default


async def test_a_proxy_from_the_environment_is_still_used(
    connection_string: str, unique_name: str, clean_environment
):
    """The proxy answers 400 to everything (an error the SDK does not retry); what matters is
    that the request went to it."""
    request_lines: list[str] = []

    async def proxy(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        request_lines.append((await reader.readline()).decode("latin-1"))
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
        await writer.drain()
        writer.close()

    server = await asyncio.start_server(proxy, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    clean_environment.setenv("HTTP_PROXY", f"http://127.0.0.1:{port}")
    async with server, StorageAccount(connection_string) as account:
        with pytest.raises(StorageError):
            await account.queue(unique_name).create_if_missing()
    assert request_lines and unique_name in request_lines[0]
