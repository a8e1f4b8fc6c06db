"""A profile: which sources a synthetic recording has, how they behave, when the runs start."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from workbench.synth._feeds import Feed
from workbench.synth._mastodon import MastodonTimeline
from workbench.synth._reddit import Subreddit

SOURCES_HEADER = """\
# The configuration this (synthetic) recording was made with. Real platform URLs: replay
# matches them, nothing is fetched.
defaults:
  mode: streaming
  requests_per_minute: 60
  timeout_s: 30
  max_response_bytes: 5242880
  criteria: {min_title_chars: 10, min_body_chars: 0}
sources:
"""
_YAML_WIDTH = 95  # sources.yaml lines wrap before this column


@dataclass(frozen=True, eq=False)
class Profile:
    """Everything ``workbench synth --profile NAME`` generates from."""

    name: str  # the --profile value
    folder: str  # the shipped recording: data/recordings/<folder>
    summary: str  # one line for --help
    subreddits: tuple[Subreddit, ...]
    feeds: tuple[Feed, ...]
    timelines: tuple[MastodonTimeline, ...]
    readme: str  # README.md template; its str.format keys: see ``write_readme``
    shared_links: int = 3  # links submitted to every cross-posting subreddit per run
    run_hours: tuple[int, ...] = (0, 8, 16)  # run starts, UTC hours of 2024-05-14

    @property
    def run_starts(self) -> tuple[datetime, ...]:
        return tuple(datetime(2024, 5, 14, h, 0, tzinfo=UTC) for h in self.run_hours)

    @property
    def interval_hours(self) -> int:
        return self.run_hours[1] - self.run_hours[0] if len(self.run_hours) > 1 else 0

    def entries(self) -> list[dict[str, Any]]:
        """Every source's sources.yaml entry, in the order written."""
        return [spec.entry for spec in (*self.subreddits, *self.feeds, *self.timelines)]

    def sources_yaml(self) -> str:
        return SOURCES_HEADER + "".join(_flow_mapping(e) for e in self.entries())


def _scalar(value: Any) -> str:
    text = str(value)
    return json.dumps(text) if isinstance(value, str) and ":" in text else text


def _flow_mapping(entry: dict[str, Any]) -> str:
    """One list item as a YAML flow mapping, wrapped like a person would."""
    parts = [f"{k}: {_scalar(v)}" for k, v in entry.items()]
    lines: list[str] = []
    line = "  - {" + parts[0]
    for part in parts[1:]:
        line += ","
        if len(line) + 1 + len(part) + 1 > _YAML_WIDTH:
            lines.append(line)
            line = "     " + part
        else:
            line += " " + part
    lines.append(line + "}")
    return "".join(f"{line}\n" for line in lines)
