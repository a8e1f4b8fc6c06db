"""The index line format: version 2 written and read, version 1 still read.

A line holds the entries of one hour bucket written by one ``record()`` call (at most
5,000; a larger call writes several lines). Version 2::

    {"v": 2, "t0": <bucket start, epoch µs>, "lo": <first offset>, "hi": <last offset>,
     "t": "<base64 of uint32 offsets>", "n": "<base64 of uint8 key counts>",
     "d": "<the entries' digests, concatenated>"}

Entry ``i`` has the time ``t0 + t[i]`` (µs into the hour, which fits 32 bits) and ``n[i]``
dedup keys, whose digests (``key_digest``, ``DIGEST_CHARS`` each) follow one another in ``d``.
``lo`` and ``hi`` are the line's first and last offsets in clear, so a line wholly inside the
window is read without unpacking ``t``. Version 1 lines held plain lists instead:
``{"v": 1, "t0": ..., "t": [<offsets>], "k": [[<digests>], ...]}`` (``v`` may be missing).
"""

from __future__ import annotations

import array
import base64
import json
import logging
from collections.abc import Sequence
from datetime import datetime
from itertools import chain
from typing import Any

import numpy

from pipeline.history.keys import DIGEST_CHARS, SeenKeys
from pipeline.history.window import epoch_us

__all__ = ["add_window_entries", "encode_lines", "entry_keys", "entry_times", "split_digests"]

log = logging.getLogger(__name__)

_FORMAT_VERSION = 2
# Entries per JSON line: keeps one line far below the 4 MiB append block limit.
_MAX_ENTRIES_PER_LINE = 5_000


def encode_lines(
    hour: datetime, times: list[int], keys_of: Sequence[Sequence[bytes]]
) -> list[dict[str, Any]]:
    """Version 2 lines for the entries of the bucket ``hour``: entry ``i`` at ``times[i]`` µs
    into the hour, with the digests ``keys_of[i]``."""
    lines = []
    for i in range(0, len(times), _MAX_ENTRIES_PER_LINE):
        chunk = keys_of[i : i + _MAX_ENTRIES_PER_LINE]
        offsets = times[i : i + _MAX_ENTRIES_PER_LINE]
        lines.append(
            {
                "v": _FORMAT_VERSION,
                "t0": epoch_us(hour),
                "lo": min(offsets),
                "hi": max(offsets),
                "t": _pack("I", offsets),
                "n": _pack("B", [len(keys) for keys in chunk]),
                "d": b"".join(chain.from_iterable(chunk)).decode("ascii"),
            }
        )
    return lines


def add_window_entries(seen: SeenKeys, blob: str, data: bytes, lo_us: int, hi_us: int) -> int:
    """Add to ``seen`` the digests of the entries of ``data`` (a bucket's lines) with a time
    ``t`` (epoch µs) in ``lo_us < t <= hi_us``; returns entries added. A line that does not
    parse is logged (``history_bad_line``) and skipped."""
    added = 0
    for number, line in enumerate(data.splitlines(), 1):
        if not line.strip():
            continue
        try:
            record: Any = json.loads(line)
            base: int = record["t0"]
            if not isinstance(base, int):
                raise ValueError("bad t0")
            if record.get("v", 1) == 1:
                times: list[int] = record["t"]
                if not times:
                    continue
                first, last = min(times), max(times)
            else:
                first, last = record["lo"], record["hi"]
        except (ValueError, KeyError, TypeError):
            log.warning("history_bad_line blob=%s line=%d skipped", blob, number)
            continue
        lo, hi = lo_us - base, hi_us - base  # the window in the line's offsets
        if hi < first or last <= lo:  # wholly outside the window
            continue
        try:
            if lo < first and last <= hi and record.get("v", 1) != 1:  # the usual case
                packed, counts = _digests_and_counts(record)
                seen.add_digests(split_digests(packed))
                added += len(counts)
                continue
            entries = list(zip(entry_times(record), entry_keys(record), strict=True))
        except (ValueError, KeyError, TypeError):
            log.warning("history_bad_line blob=%s line=%d skipped", blob, number)
            continue
        for when, keys in entries:
            if lo < when <= hi:
                seen.add_digests(keys)
                added += 1
    return added


def split_digests(packed: str) -> list[bytes]:
    """The digests of a concatenation of them, ``DIGEST_CHARS`` characters each (``ValueError``
    when the length is not a multiple, or a character is not ASCII). numpy cuts them out in C:
    a load adds hundreds of thousands of digests, and a Python loop of slices costs more than
    the set they go into."""
    cells: list[bytes] = numpy.frombuffer(packed.encode("ascii"), dtype=f"S{DIGEST_CHARS}").tolist()
    return cells


def _pack(typecode: str, values: list[int]) -> str:
    return base64.b64encode(array.array(typecode, values).tobytes()).decode("ascii")


def _unpack(typecode: str, text: str) -> array.array[int]:
    values = array.array(typecode)
    values.frombytes(base64.b64decode(text))
    return values


def _digests_and_counts(record: Any) -> tuple[str, array.array[int]]:
    """A version 2 line's concatenated digests and its key count per entry, checked to agree."""
    packed: str = record["d"]
    counts = _unpack("B", record["n"])
    if len(packed) != DIGEST_CHARS * sum(counts):
        raise ValueError("digest string and counts disagree")
    return packed, counts


def entry_times(record: Any) -> list[int]:
    """Each entry's time (µs into the line's hour) of an index line, version 2 or 1."""
    if record.get("v", 1) == 1:
        times: list[int] = record["t"]
        return times
    return list(_unpack("I", record["t"]))


def entry_keys(record: Any) -> list[list[bytes]]:
    """The digests of each entry of an index line, version 2 or 1 (``ValueError`` or
    ``TypeError`` when they are not ASCII text)."""
    if record.get("v", 1) == 1:
        return [[_ascii(digest) for digest in digests] for digests in record["k"]]
    packed, counts = _digests_and_counts(record)
    digests = split_digests(packed)
    out = []
    at = 0
    for count in counts:
        out.append(digests[at : at + count])
        at += count
    return out


def _ascii(digest: Any) -> bytes:
    if not isinstance(digest, str):
        raise TypeError(f"a digest is text, not {type(digest).__name__}")
    return digest.encode("ascii")
