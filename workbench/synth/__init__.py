"""Seeded generators of realistic recordings, for machines without internet.

``generate(out, seed, profile=...)`` writes a recording folder (docs/contracts.md,
Recordings) of a profile's sources: Reddit listings, RSS 2.0 / RSS 1.0 / Atom feeds and
Mastodon timelines, in the platforms' own formats, with recorded latencies, politeness pauses
and ``Retry-After`` waits. Items come back in later runs (same ids) and some stories appear on
two sources in the same run (same canonical link and the same normalized text), so that
deduplication hits 10-20 %. The same seed and profile give the same bytes.

One module per platform fake (``_reddit``, ``_feeds``, ``_mastodon``), one per profile
(``_tech_feeds``, ``_design_scale``); ``_driver`` runs them; docs/recordings.md describes
the profiles. The payload builders are public for the test fixtures
(tests/fixtures/har/build_fixtures.py), which hand-pick their content.
"""

from workbench.synth._driver import DEFAULT_PROFILE, PROFILES, generate, write_readme
from workbench.synth._mastodon import Toot, mastodon_account, mastodon_status
from workbench.synth._reddit import RedditPost, escaped_form, reddit_listing, reddit_t3
from workbench.synth._words import Story

__all__ = [
    "DEFAULT_PROFILE",
    "PROFILES",
    "RedditPost",
    "Story",
    "Toot",
    "escaped_form",
    "generate",
    "mastodon_account",
    "mastodon_status",
    "reddit_listing",
    "reddit_t3",
    "write_readme",
]
