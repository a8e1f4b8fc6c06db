"""Dedup keys as short digests, and the in-memory set a run checks items against."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from pipeline.items import DIGEST_CHARS, key_digest, key_digests

__all__ = [
    "DIGEST_CHARS",
    "SeenKeys",
    "first_seen",
    "first_seen_index",
    "key_digest",
    "key_digests",
]


class SeenKeys:
    """An in-memory set of key digests: the loaded history, or the keys of one run."""

    __slots__ = ("_digests",)

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._digests: set[bytes] = {key_digest(k) for k in keys}

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

    def add_digests(self, digests: Iterable[bytes]) -> None:
        """Add digests already computed by ``key_digest`` (as read from the index)."""
        self._digests.update(digests)

    def update(self, other: SeenKeys) -> None:
        self._digests.update(other._digests)

    def digests(self) -> frozenset[bytes]:
        return frozenset(self._digests)


def first_seen(keys: Iterable[str], *sets: SeenKeys) -> str | None:
    """The first of ``keys``, in their order, that any of ``sets`` has seen, else None.

    ``ContentItem.dedup_keys`` lists an item's keys as id, link, text: the key returned is
    the kind a duplicate counts under when it matches several."""
    keys = tuple(keys)
    index = first_seen_index(key_digests(keys), *sets)
    return None if index is None else keys[index]


def first_seen_index(digests: Sequence[bytes], *sets: SeenKeys) -> int | None:
    """The position of the first of ``digests`` (an item's ``key_digests``) that any of
    ``sets`` has seen, else None: ``first_seen`` for keys already digested."""
    if all(s._digests.isdisjoint(digests) for s in sets):
        return None  # the common case, settled in C
    for index, digest in enumerate(digests):
        if any(digest in s._digests for s in sets):
            return index
    return None
