"""``sources.yaml``: which sources to collect and how (docs/contracts.md, Sources).

Every key of ``SourceConfig`` marked ``common`` may be set under ``defaults`` and overridden
per source; the type-specific keys belong to one source type. Adding a key is one field here:
the loader reads the field's metadata (its kind, the types it applies to, whether it is common).
Unknown keys and wrong types raise ``ConfigError`` naming the file, the source and the key.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml

from pipeline.errors import ConfigError

__all__ = ["MODES", "Criteria", "SourceConfig", "SourcesConfig", "load_sources", "parse_sources"]

MODES = ("batch", "streaming")
REDDIT_SORTS = ("new", "hot", "top", "rising")
MASTODON_TIMELINES = "tag:NAME | trending | public | local"


def _key(
    default: Any,
    kind: str,
    *,
    common: bool = False,
    types: tuple[str, ...] = (),
    required: bool = False,
    minimum: float | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    """A ``SourceConfig`` field with what the loader needs to check it."""
    meta = {
        "kind": kind,
        "common": common,
        "types": types,
        "required": required,
        "minimum": minimum,
        "choices": choices,
    }
    return dataclasses.field(default=default, metadata=meta)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Criteria:
    """What an item needs to be accepted, beyond the platform filters."""

    min_title_chars: int = 10
    min_body_chars: int = 0


@dataclasses.dataclass(frozen=True, kw_only=True)
class SourceConfig:
    """One source of ``sources.yaml`` with every default applied."""

    name: str
    type: str  # reddit | rss | mastodon
    # -- common keys (settable under defaults) ---------------------------------------------
    mode: str = _key("streaming", "str", common=True, choices=MODES)
    requests_per_minute: float = _key(60.0, "float", common=True, minimum=0.001)
    timeout_s: float = _key(30.0, "float", common=True, minimum=0.001)
    max_response_bytes: int = _key(5 * 1024 * 1024, "int", common=True, minimum=1)
    max_attempts: int = _key(4, "int", common=True, minimum=1)
    backoff_base_s: float = _key(1.0, "float", common=True, minimum=0)
    backoff_max_s: float = _key(60.0, "float", common=True, minimum=0)
    max_retry_after_s: float = _key(120.0, "float", common=True, minimum=0)
    user_agent: str = _key("streaming-collection-workbench/0.1", "str", common=True)
    # Title plus body of one item, in characters; longer text is cut (a feed entry or a Reddit
    # selftext can carry megabytes).
    max_item_chars: int = _key(262_144, "int", common=True, minimum=1)
    # Send the previous run's ETag / Last-Modified (feeds); a 304 is an empty success.
    conditional_requests: bool = _key(True, "bool", common=True)
    criteria: Criteria = _key(Criteria(), "criteria", common=True)
    # -- reddit ---------------------------------------------------------------------------
    subreddit: str | None = _key(None, "str", types=("reddit",), required=True)
    sort: str = _key("new", "str", types=("reddit",), choices=REDDIT_SORTS)
    base_url: str = _key("https://www.reddit.com", "url", types=("reddit",))
    min_score: int = _key(0, "int", types=("reddit",))
    # -- rss / atom ------------------------------------------------------------------------
    url: str | None = _key(None, "url", types=("rss",), required=True)
    # -- mastodon --------------------------------------------------------------------------
    instance: str | None = _key(None, "url", types=("mastodon",), required=True)
    timeline: str = _key("public", "timeline", types=("mastodon",))
    min_boosts: int = _key(0, "int", types=("mastodon",))
    min_favourites: int = _key(0, "int", types=("mastodon",))
    # -- paged sources (reddit, mastodon) ------------------------------------------------
    limit: int = _key(25, "int", types=("reddit", "mastodon"), minimum=1)
    pages: int = _key(1, "int", types=("reddit", "mastodon"), minimum=1)

    @property
    def politeness_interval_s(self) -> float:
        """Seconds between the starts of two requests of this source."""
        return 60.0 / self.requests_per_minute


@dataclasses.dataclass(frozen=True)
class SourcesConfig:
    sources: tuple[SourceConfig, ...]
    defaults: Mapping[str, Any]
    path: Path | None = None

    def by_name(self, name: str) -> SourceConfig:
        for source in self.sources:
            if source.name == name:
                return source
        raise KeyError(name)


SOURCE_TYPES = ("reddit", "rss", "mastodon")
_FIELDS = {f.name: f for f in dataclasses.fields(SourceConfig)}
COMMON_KEYS = tuple(n for n, f in _FIELDS.items() if f.metadata.get("common"))
_CRITERIA_FIELDS = {f.name: f for f in dataclasses.fields(Criteria)}


def load_sources(path: str | Path) -> SourcesConfig:
    """Read and validate a ``sources.yaml``; ``ConfigError`` names file, source and key."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{path}: file not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read: {exc}") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" (line {mark.line + 1})" if mark is not None else ""
        problem = getattr(exc, "problem", None) or "invalid YAML"
        raise ConfigError(f"{path}: invalid YAML{where}: {problem}") from None
    return parse_sources(data, path)


def parse_sources(data: Any, path: str | Path | None = None) -> SourcesConfig:
    """Validate an already-loaded ``sources.yaml`` document."""
    where = str(path) if path is not None else "sources.yaml"
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping with 'sources' (and 'defaults')")
    unknown = set(data) - {"defaults", "sources"}
    if unknown:
        raise ConfigError(f"{where}: unknown top-level key {sorted(unknown)[0]!r}")
    raw_defaults = data.get("defaults") or {}
    if not isinstance(raw_defaults, dict):
        raise ConfigError(f"{where}: defaults: expected a mapping")
    defaults: dict[str, Any] = {}
    for key, value in raw_defaults.items():
        if key not in COMMON_KEYS:
            raise ConfigError(
                f"{where}: defaults: unknown key {key!r} (allowed: {', '.join(COMMON_KEYS)})"
            )
        defaults[key] = _check(where, "defaults", key, value)
    raw_sources = data.get("sources")
    if not isinstance(raw_sources, list) or not raw_sources:
        raise ConfigError(f"{where}: sources: expected a non-empty list")
    sources: list[SourceConfig] = []
    seen: set[str] = set()
    for index, raw in enumerate(raw_sources):
        source = _parse_source(where, index, raw, defaults)
        if source.name in seen:
            raise ConfigError(f"{where}: source {source.name!r}: duplicate name")
        seen.add(source.name)
        sources.append(source)
    return SourcesConfig(
        sources=tuple(sources), defaults=defaults, path=Path(path) if path else None
    )


def _parse_source(where: str, index: int, raw: Any, defaults: Mapping[str, Any]) -> SourceConfig:
    label = f"sources[{index}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where}: {label}: expected a mapping")
    name = raw.get("name")
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"{where}: {label}: key 'name': expected a non-empty string")
    label = f"source {name!r}"
    kind = raw.get("type")
    if kind not in SOURCE_TYPES:
        raise ConfigError(
            f"{where}: {label}: key 'type': expected one of {', '.join(SOURCE_TYPES)}, got {kind!r}"
        )
    values: dict[str, Any] = dict(defaults)
    for key, value in raw.items():
        if key in ("name", "type"):
            continue
        field = _FIELDS.get(key)
        types = field.metadata.get("types") if field else None
        if field is None or (types and kind not in types):
            raise ConfigError(f"{where}: {label}: unknown key {key!r} for type {kind}")
        checked = _check(where, label, key, value)
        if key == "criteria" and isinstance(values.get("criteria"), Criteria):
            checked = dataclasses.replace(values["criteria"], **{k: value[k] for k in value})
        values[key] = checked
    for key, field in _FIELDS.items():
        if field.metadata.get("required") and kind in field.metadata["types"]:
            if values.get(key) is None:
                raise ConfigError(f"{where}: {label}: missing required key {key!r}")
    return SourceConfig(name=name, type=kind, **values)


def _check(where: str, label: str, key: str, value: Any) -> Any:
    meta = _FIELDS[key].metadata
    kind = meta["kind"]
    prefix = f"{where}: {label}: key {key!r}"
    if kind == "criteria":
        return _check_criteria(prefix, value)
    if kind in ("str", "url", "timeline"):
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{prefix}: expected a non-empty string, got {value!r}")
        if meta["choices"] and value not in meta["choices"]:
            raise ConfigError(f"{prefix}: expected one of {', '.join(meta['choices'])}")
        if kind == "url":
            parts = urlsplit(value)
            if parts.scheme not in ("http", "https") or not parts.netloc:
                raise ConfigError(f"{prefix}: expected an http(s) URL, got {value!r}")
            return value.rstrip("/") if key != "url" else value
        if kind == "timeline":
            if not (value in ("trending", "public", "local") or _tag_of(value)):
                raise ConfigError(f"{prefix}: expected {MASTODON_TIMELINES}, got {value!r}")
        return value
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{prefix}: expected true or false, got {value!r}")
        return value
    if kind == "int":
        if isinstance(value, bool) or not isinstance(value, int):
            raise ConfigError(f"{prefix}: expected an integer, got {value!r}")
    elif kind == "float":
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ConfigError(f"{prefix}: expected a number, got {value!r}")
        value = float(value)
        # NaN passes every comparison below (and .nan politeness meant no politeness at all).
        if not math.isfinite(value):
            raise ConfigError(f"{prefix}: expected a finite number, got {value!r}")
    minimum = meta["minimum"]
    if minimum is not None and value < minimum:
        raise ConfigError(f"{prefix}: must be >= {minimum:g}, got {value!r}")
    return value


def _check_criteria(prefix: str, value: Any) -> Criteria:
    if not isinstance(value, dict):
        raise ConfigError(f"{prefix}: expected a mapping")
    for k, v in value.items():
        if k not in _CRITERIA_FIELDS:
            raise ConfigError(
                f"{prefix}: unknown key {k!r} (allowed: {', '.join(_CRITERIA_FIELDS)})"
            )
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise ConfigError(f"{prefix}.{k}: expected an integer >= 0, got {v!r}")
    return Criteria(**value)


def _tag_of(timeline: str) -> str | None:
    if timeline.startswith("tag:") and len(timeline) > 4 and "/" not in timeline:
        return timeline[4:]
    return None


def mastodon_tag(source: SourceConfig) -> str | None:
    """The hashtag of a ``tag:NAME`` timeline, else None."""
    return _tag_of(source.timeline)
