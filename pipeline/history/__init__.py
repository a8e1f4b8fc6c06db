"""History dedup shared by runs and collector instances through blob storage.

An item is a duplicate when any of its dedup keys was recorded in the lookback window
``(now - lookback, now]`` (24 h by default). The index is a set of append blobs, one per hour of
the items' times::

    history/YYYY/MM/DD/HH.jsonl        (overflow parts: HH.1.jsonl, HH.2.jsonl, ...)

Each ``record()`` call appends one block of JSON lines per hour bucket it touches, written in
version 2 (version 1 lines are still read)::

    {"v": 2, "t0": <bucket start, epoch µs>, "lo": <first offset>, "hi": <last offset>,
     "t": "<base64 of uint32 µs offsets>", "n": "<base64 of uint8 key counts>",
     "d": "<16-character key digests, concatenated>"}

Loading the window lists the names under the prefix its days share (one request), downloads
only the hour buckets inside it (concurrently, bounded) and never reads a collection blob.
Times are the caller's (``now`` may be a replayed recording time), never the wall clock nor a
blob's ``last_modified``; naive datetimes are taken as UTC.

Concurrent writers: appends to an append blob are atomic blocks of whole lines, so two
collectors recording into the same bucket at the same time both land. A crash loses at most
the lines not yet appended (a possible duplicate message later, which the processor's
idempotence absorbs); a retried append can only repeat entries, which a set ignores.

Modules: ``window`` (the window rule and the checks of lookback and retention), ``layout``
(blob names), ``keys`` (digests and the in-memory set), ``codec`` (the line format),
``index`` (``HistoryIndex``: record and load), ``retention`` (cleanup of old buckets and
collections). ``docs/history.md`` explains why concurrent writers and crashes lose nothing.
"""

from pipeline.history.index import HistoryIndex, LoadStats
from pipeline.history.keys import SeenKeys, first_seen, first_seen_index, key_digest, key_digests
from pipeline.history.layout import collection_started_at
from pipeline.history.retention import cleanup_collections

__all__ = [
    "HistoryIndex",
    "LoadStats",
    "SeenKeys",
    "cleanup_collections",
    "collection_started_at",
    "first_seen",
    "first_seen_index",
    "key_digest",
    "key_digests",
]
