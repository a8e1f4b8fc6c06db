"""sources.yaml: defaults, overrides, and errors that name the file, the source and the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.config import Criteria, SourceConfig, load_sources
from pipeline.errors import ConfigError

GOOD = """\
defaults:
  mode: streaming
  requests_per_minute: 60
  timeout_s: 30
  max_response_bytes: 5242880
  criteria: {min_title_chars: 10, min_body_chars: 0}
sources:
  - {name: reddit-python, type: reddit, subreddit: python, sort: new, limit: 25, pages: 2,
     min_score: 0, base_url: "https://www.reddit.com/", mode: batch,
     criteria: {min_body_chars: 5}}
  - {name: hn, type: rss, url: "https://news.ycombinator.com/rss", timeout_s: 5}
  - {name: fosstodon-python, type: mastodon, instance: "https://fosstodon.org",
     timeline: "tag:python", limit: 20, pages: 2, min_boosts: 0}
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    return path


def test_loads_product_example_with_defaults_and_overrides(tmp_path: Path) -> None:
    config = load_sources(write(tmp_path, GOOD))
    reddit, hn, masto = config.sources
    assert isinstance(reddit, SourceConfig)
    assert reddit.mode == "batch" and hn.mode == "streaming"
    assert reddit.base_url == "https://www.reddit.com"
    assert reddit.criteria == Criteria(min_title_chars=10, min_body_chars=5)
    assert hn.timeout_s == 5.0 and masto.timeout_s == 30.0
    assert masto.timeline == "tag:python" and masto.limit == 20
    assert reddit.politeness_interval_s == 1.0
    assert config.path == tmp_path / "sources.yaml"
    assert config.by_name("hn") is hn


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("sources:\n  - {name: a, type: rss, url: 'https://x', colour: red}\n",
         "source 'a': unknown key 'colour'"),
        ("sources:\n  - {name: a, type: rss, url: 'https://x', subreddit: python}\n",
         "source 'a': unknown key 'subreddit' for type rss"),
        ("sources:\n  - {name: a, type: rss, url: 'https://x', timeout_s: fast}\n",
         "source 'a': key 'timeout_s': expected a number"),
        ("sources:\n  - {name: a, type: reddit, subreddit: p, limit: 2.5}\n",
         "source 'a': key 'limit': expected an integer"),
        ("sources:\n  - {name: a, type: reddit}\n",
         "source 'a': missing required key 'subreddit'"),
        ("sources:\n  - {name: a, type: rss, url: 'ftp://x'}\n",
         "source 'a': key 'url': expected an http(s) URL"),
        ("sources:\n  - {name: a, type: mastodon, instance: 'https://m', timeline: home}\n",
         "source 'a': key 'timeline'"),
        ("sources:\n  - {name: a, type: rss, url: 'https://x', mode: turbo}\n",
         "source 'a': key 'mode': expected one of batch, streaming"),
        ("sources:\n  - {name: a, type: gopher}\n", "source 'a': key 'type'"),
        ("defaults: {politeness: 3}\nsources:\n  - {name: a, type: rss, url: 'https://x'}\n",
         "defaults: unknown key 'politeness'"),
        ("defaults: {criteria: {min_words: 3}}\nsources:\n  - {name: a, type: rss, url: 'https://x'}\n",
         "defaults: key 'criteria': unknown key 'min_words'"),
        ("sources:\n  - {name: a, type: rss, url: 'https://x', requests_per_minute: 0}\n",
         "source 'a': key 'requests_per_minute': must be >="),
        ("sources:\n  - {name: a, type: rss, url: 'https://x'}\n  - {name: a, type: rss, url: 'https://y'}\n",
         "source 'a': duplicate name"),
        ("sources: []\n", "sources: expected a non-empty list"),
        ("sources:\n  - {name: a, type: rss, url: 'https://x'\n", "invalid YAML (line"),
        ("- just a list\n", "expected a mapping"),
    ],
)  # fmt: skip
def test_errors_name_file_source_and_key(tmp_path: Path, text: str, expected: str) -> None:
    path = write(tmp_path, text)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert message.startswith(str(path)), message
    assert expected in message, message
    assert "\n" not in message


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        load_sources(tmp_path / "nope.yaml")


def test_a_source_is_found_by_its_name(tmp_path: Path) -> None:
    config = load_sources(write(tmp_path, GOOD))
    assert config.by_name("hn").url == "https://news.ycombinator.com/rss"
    with pytest.raises(KeyError) as info:
        config.by_name("lobsters")
    assert info.value.args == ("lobsters",)


def test_a_field_carries_what_the_loader_checks() -> None:
    import dataclasses

    from pipeline.config import _key

    field = _key(30.0, "number", common=True, minimum=0.5)
    assert field.default == 30.0
    assert dict(field.metadata) == {"kind": "number", "common": True, "types": (),
                                    "required": False, "minimum": 0.5, "choices": ()}  # fmt: skip
    plain = _key(None, "text", types=("rss",), required=True, choices=("a", "b"))
    assert dict(plain.metadata) == {"kind": "text", "common": False, "types": ("rss",),
                                    "required": True, "minimum": None, "choices": ("a", "b")}  # fmt: skip
    assert plain.default is None and isinstance(plain, dataclasses.Field)
