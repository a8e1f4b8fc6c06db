"""sources.yaml: every numeric setting refuses NaN and infinities (issue 12, defect 9).

``.nan`` passed ``value < minimum`` (every comparison with NaN is false), so
``requests_per_minute: .nan`` switched politeness off.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from pipeline.config import SourceConfig, load_sources
from pipeline.errors import ConfigError

FLOAT_KEYS = [
    f.name
    for f in dataclasses.fields(SourceConfig)
    if f.metadata.get("kind") == "float" and f.metadata.get("common")
]


def test_the_float_settings_are_found() -> None:
    assert {"requests_per_minute", "timeout_s", "backoff_base_s"} <= set(FLOAT_KEYS)


@pytest.mark.parametrize("key", FLOAT_KEYS)
@pytest.mark.parametrize("value", [".nan", ".inf", "-.inf"])
@pytest.mark.parametrize("where", ["defaults", "source"])
def test_nan_and_infinities_are_refused(tmp_path: Path, key: str, value: str, where: str) -> None:
    setting = f"{key}: {value}"
    if where == "defaults":
        text = f"defaults: {{{setting}}}\nsources:\n  - {{name: a, type: rss, url: 'https://x'}}\n"
    else:
        text = f"sources:\n  - {{name: a, type: rss, url: 'https://x', {setting}}}\n"
    path = tmp_path / "sources.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_sources(path)
    message = str(info.value)
    assert message.startswith(str(path)) and f"key {key!r}" in message, message
    assert "finite number" in message and "\n" not in message, message


def test_finite_numbers_still_load(tmp_path: Path) -> None:
    path = tmp_path / "sources.yaml"
    path.write_text(
        "defaults: {requests_per_minute: 0.5, timeout_s: 2}\n"
        "sources:\n  - {name: a, type: rss, url: 'https://x', backoff_max_s: 0}\n"
    )
    [source] = load_sources(path).sources
    assert source.politeness_interval_s == 120.0 and source.backoff_max_s == 0.0
