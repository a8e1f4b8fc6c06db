"""The processor: turns each queued content item into an article.

A ``Processor`` receives messages in batches (up to 32), works on up to ``concurrency`` of them
at once and keeps every message it holds hidden by renewing its visibility. For each message:

- delivered more than ``max_deliveries`` times, or not valid base64 JSON v1: copied to the
  poison queue (raw content kept, with a reason) and deleted;
- ``processed-content/<processing key>.json`` already there: deleted without doing the work
  (idempotent by the processing key: the ``content_hash``, or for a text too short to identify
  a post, its link or its source and id; ``pipeline.items.processing_key``);
- otherwise: the real light ``transform``, then, when the processor was handed ``work``, a
  simulated delay that brings the handling time up to what ``work()`` returns (the real work
  counts as part of it; the delay is slept on the clock), the result written create-only (a
  conflict means another worker won), then the message deleted.

Every instance of a deployment shares one ``ProcessorSettings``; each instance has its own name
and, for experiments, its own ``work`` function (the workbench draws it from a distribution,
seeded per instance). Times in records are ``clock.now()`` (recording seconds); ``work()``,
``empty_pause_s`` and ``idle_exit_s`` are recording seconds too. ``visibility_timeout_s`` is wall
seconds, since the queue service keeps it. Logs are one ``event=... key=value`` line each and
never hold secrets.

Modules: ``_processor`` (the receive loop), ``_leases`` (visibility leases), ``_transform`` (the
item-to-article transform), ``_records`` (outcome records, counts, log lines), ``_documents``
(the result and poison documents), ``_settings``, ``_signals``.
"""

from pipeline.processor._documents import (
    POISON_SCHEMA,
    RESULT_SCHEMA,
    message_processing_key,
    result_blob_name,
)
from pipeline.processor._processor import Processor
from pipeline.processor._records import OUTCOMES, ProcessedRecord, ProcessorStats
from pipeline.processor._settings import (
    DEFAULT_COLLECTED_CONTAINER,
    DEFAULT_MAX_CLAIM_BYTES,
    DEFAULT_POISON_QUEUE,
    DEFAULT_QUEUE,
    DEFAULT_RESULTS_CONTAINER,
    ProcessorSettings,
    Work,
)
from pipeline.processor._signals import install_signal_handlers
from pipeline.processor._transform import transform

__all__ = [
    "DEFAULT_COLLECTED_CONTAINER",
    "DEFAULT_MAX_CLAIM_BYTES",
    "DEFAULT_POISON_QUEUE",
    "DEFAULT_QUEUE",
    "DEFAULT_RESULTS_CONTAINER",
    "OUTCOMES",
    "POISON_SCHEMA",
    "RESULT_SCHEMA",
    "ProcessedRecord",
    "Processor",
    "ProcessorSettings",
    "ProcessorStats",
    "Work",
    "install_signal_handlers",
    "message_processing_key",
    "result_blob_name",
    "transform",
]
