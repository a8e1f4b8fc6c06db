"""One item over the 4 MiB append-block limit is handled by itself (issue 12, defect 2): a
4.4 MB Reddit selftext passed the 5 MiB response cap, then the collection-blob append failed
("over the 4194304-byte append block limit") and nothing of the batch run was queued.

Now the item's collection-blob line is claim-checked like its message: the whole item goes to
its claim blob, the line carries a cut body and the reference, and the run goes on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from typing import Any

import pytest

from pipeline.clock import Clock
from pipeline.collect import CollectorOptions
from pipeline.config import SourceConfig
from pipeline.processor import DEFAULT_MAX_CLAIM_BYTES, Processor, ProcessorSettings
from pipeline.storage import MAX_APPEND_BLOCK_BYTES, StorageAccount
from tests.pipeline.test_collect import collect, drain, fresh, har_entry, sources

pytestmark = pytest.mark.anyio

HUGE_BYTES = 4_400_000


def listing(posts: list[tuple[str, str]]) -> str:
    children = [
        {"kind": "t3", "data": {
            "id": pid, "name": f"t3_{pid}", "subreddit": "python", "title": title,
            "selftext": text, "is_self": True, "permalink": f"/r/python/comments/{pid}/x/",
            "author": "someone", "score": 5, "created_utc": 1715662800.0,
            "stickied": False, "over_18": False}}
        for pid, (title, text) in zip(("a1", "a2", "a3"), posts, strict=True)
    ]  # fmt: skip
    return json.dumps({"kind": "Listing", "data": {"after": None, "children": children}})


@pytest.mark.parametrize("mode", ["batch", "streaming"])
async def test_an_item_over_the_append_block_limit_does_not_abort_the_run(
    mode: str, connection_string: str, unique_name: str
) -> None:
    rng = random.Random(2)
    words = ["queue", "stream", "batch", "azure", "blob", "keda", "python", "collector"]
    huge = " ".join(rng.choice(words) for _ in range(HUGE_BYTES // 6))
    assert len(huge) > MAX_APPEND_BLOCK_BYTES
    posts = [("A short post about queues", "Short text."),
             ("A post with a whole book in its selftext", huge),
             ("Another short post about streams", "More text.")]  # fmt: skip
    url = "https://www.reddit.com/r/python/new.json?limit=25&raw_json=1"
    entries = [har_entry(url, listing(posts), mime="application/json")]
    # A text cap raised by the user (the default, max_item_chars, cuts items far below 4 MiB).
    srcs = sources({"name": "reddit-python", "type": "reddit", "subreddit": "python",
                    "limit": 25, "pages": 1, "max_item_chars": 10_000_000})  # fmt: skip
    async with StorageAccount(connection_string) as account:
        async with fresh(account, unique_name) as (queue, store):
            metrics = await collect(
                entries, srcs, queue, store, options=CollectorOptions(mode_override=mode)
            )
            lines = await store.read_jsonl(metrics.collection_blob)
            big = next(line for line in lines if line["title"].startswith("A post with"))
            container, _, claim = big["claim_check"].partition("/")
            claimed, _ = await store.read_json(claim)
            # The processor reads the whole item back through the message's claim check.
            results = await account.container(f"{unique_name}-results").create_if_missing()
            processor = Processor(
                account,
                ProcessorSettings(
                    queue_name=queue.name,
                    poison_queue_name=f"{unique_name}-poison",
                    results_container=results.name,
                    claims_container=store.name,
                    idle_exit_s=0.5,
                ),
                clock=Clock(50),
            )
            try:
                await asyncio.wait_for(processor.run(), timeout=60)
                result: Any = None
                for blob in await results.list():
                    doc, _ = await results.read_json(blob.name)
                    if doc["content_hash"] == big["content_hash"]:
                        result = doc
            finally:
                await account.delete_container(results.name)
                await account.delete_queue(f"{unique_name}-poison")
            assert await drain(queue) == []

    assert metrics.items_queued == 3, metrics.per_source
    assert {line["title"] for line in lines} == {title for title, _ in posts}
    assert container == store.name and claim.startswith("claims/")
    assert big["body_truncated"] is True and len(big["body"]) < 10_000
    assert huge.startswith(big["body"])
    assert claimed["body"] == huge and claimed["content_hash"] == big["content_hash"]
    assert processor.stats.processed == 3 and processor.stats.invalid == 0
    assert result is not None and result["article"]["body"] == huge


def test_the_default_caps_fit_together() -> None:
    """An item's text comes from one response; its claim blob, every byte escaped (``\\u0000``
    is six bytes for one), fits under the processor's claim cap."""
    response_cap = next(
        f.default for f in dataclasses.fields(SourceConfig) if f.name == "max_response_bytes"
    )
    assert isinstance(response_cap, int)
    assert 6 * response_cap + 64 * 1024 <= DEFAULT_MAX_CLAIM_BYTES
