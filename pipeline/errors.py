"""The pipeline's own exception types. Messages say what failed and never carry secrets."""

from __future__ import annotations


class PipelineError(Exception):
    """Base class of every error the pipeline raises on purpose."""


class ConfigError(PipelineError, ValueError):
    """A configuration file (sources.yaml, ScaledObject, ...) is invalid; the message names the
    file, the source and the key."""


class ReplayError(PipelineError):
    """A recording cannot be replayed: missing folder, bad HAR, or a request with no answer."""


class StorageError(PipelineError):
    """An Azure Storage operation failed; the message names the queue or container."""


class StorageUnavailableError(StorageError):
    """The storage endpoint does not answer (e.g. Azurite not running)."""


class StorageAuthError(StorageError):
    """The account name or key was refused."""


class MessageTooLargeError(StorageError, ValueError):
    """A queue message is over the service's size limit once encoded."""
