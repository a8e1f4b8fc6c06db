"""Source collectors: Reddit, RSS/Atom and Mastodon as async generators of ``ContentItem``.

``collect_source`` reads one source on the run's shared ``httpx.AsyncClient`` and yields each
accepted item as soon as its page is parsed. It never raises for a source failure: errors are
counted by kind in ``SourceStats`` and the generator ends. The one exception is ``ReplayError``
(a request the recording has no answer for): a broken recording, not a source failure.
The sources on one client share at most ``MAX_REQUESTS_IN_FLIGHT`` requests at once and each
host's rate-limit budget (see ``pipeline.sources._http``); docs/sources.md has the rules.
"""

from pipeline.sources._collect import collect_source
from pipeline.sources._gate import ParseGate
from pipeline.sources._http import MAX_REQUESTS_IN_FLIGHT, limit_requests_in_flight
from pipeline.sources._stats import ERROR_KINDS, WARNING_KINDS, SourceStats

__all__ = [
    "ERROR_KINDS",
    "MAX_REQUESTS_IN_FLIGHT",
    "ParseGate",
    "WARNING_KINDS",
    "SourceStats",
    "collect_source",
    "limit_requests_in_flight",
]
