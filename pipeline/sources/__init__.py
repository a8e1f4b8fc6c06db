"""Source collectors: Reddit, RSS/Atom and Mastodon as async generators of ``ContentItem``.

``collect_source`` reads one source on the run's shared ``httpx.AsyncClient`` and yields each
accepted item as soon as its page is parsed. It never raises for a source failure: errors are
counted by kind in ``SourceStats`` and the generator ends. The one exception is ``ReplayError``
(a request the recording has no answer for): a broken recording, not a source failure.
"""

from pipeline.sources._collect import collect_source
from pipeline.sources._stats import ERROR_KINDS, SourceStats

__all__ = ["ERROR_KINDS", "SourceStats", "collect_source"]
