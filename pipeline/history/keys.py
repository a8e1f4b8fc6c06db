"""Dedup keys as short digests, and the in-memory set a run checks items against."""

from __future__ import annotations

import base64
import functools
import hashlib
from collections.abc import Iterable

__all__ = ["DIGEST_CHARS", "SeenKeys", "first_seen", "key_digest"]

DIGEST_CHARS = 16  # the length of every digest ``key_digest`` returns
_DIGEST_BYTES = 12  # a multiple of 3: base64 without padding


@functools.lru_cache(maxsize=8192)
def key_digest(key: str) -> str:
    """A short stable digest of a dedup key: 12 bytes of SHA-256 as URL-safe base64 (16 chars).

    96 bits: a false "seen" needs a collision among the window's digests, about
    ``keys_checked * keys_in_window / 2**96`` (1e-19 a day at 30,000 keys a day). Cached: a
    streaming run digests each key of an item several times (history check, run set, history
    record a flush later), and a hit costs a tenth of a digest."""
    raw = hashlib.sha256(key.encode("utf-8")).digest()[:_DIGEST_BYTES]
    return base64.urlsafe_b64encode(raw).decode("ascii")


class SeenKeys:
    """An in-memory set of key digests: the loaded history, or the keys of one run."""

    __slots__ = ("_digests",)

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._digests: set[str] = {key_digest(k) for k in keys}

    def __repr__(self) -> str:
        return f"SeenKeys({len(self._digests)} digests)"

    def __len__(self) -> int:
        return len(self._digests)

    def seen(self, keys: Iterable[str]) -> bool:
        """True when ANY of the keys was seen (an item is a duplicate on any key)."""
        digests = self._digests
        return any(key_digest(k) in digests for k in keys)

    def add(self, keys: Iterable[str]) -> None:
        self._digests.update(key_digest(k) for k in keys)

    def add_digests(self, digests: Iterable[str]) -> None:
        """Add digests already computed by ``key_digest`` (as read from the index)."""
        self._digests.update(digests)

    def update(self, other: SeenKeys) -> None:
        self._digests.update(other._digests)

    def digests(self) -> frozenset[str]:
        return frozenset(self._digests)


def first_seen(keys: Iterable[str], *sets: SeenKeys) -> str | None:
    """The first of ``keys``, in their order, that any of ``sets`` has seen, else None.

    ``ContentItem.dedup_keys`` lists an item's keys as id, link, text: the key returned is
    the kind a duplicate counts under when it matches several."""
    for key in keys:
        digest = key_digest(key)
        if any(digest in s._digests for s in sets):
            return key
    return None
