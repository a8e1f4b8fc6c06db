"""Storage errors: SDK exceptions turned into ``pipeline.errors`` types whose messages say what
failed and never hold a key or a SAS token (the SDK's own exception is not chained, since its
text may carry request URLs)."""

from __future__ import annotations

import re
from typing import NoReturn

from azure.core.exceptions import (
    ClientAuthenticationError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)

from pipeline.errors import StorageAuthError, StorageError, StorageUnavailableError

_SECRET_PATTERNS = (
    re.compile(r"(AccountKey=)[^;\s]+", re.IGNORECASE),
    re.compile(r"(SharedAccessSignature=)[^;\s]+", re.IGNORECASE),
    re.compile(r"([?&]sig=)[^&\s]+", re.IGNORECASE),
    re.compile(r"(Authorization:?\s*['\"]?SharedKey\s+[^:\s]+:)[^\s'\"]+", re.IGNORECASE),
)


def redact(text: str) -> str:
    """Replace account keys, SAS signatures and SharedKey signatures by ``***``."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1***", text)
    return text


class ETagConflictError(StorageError):
    """A conditional write lost: the blob changed (or appeared) since it was read."""


def raise_storage_error(exc: BaseException, what: str, endpoint: str) -> NoReturn:
    """Raise our own error for an SDK error on ``what`` (e.g. "queue 'x'")."""
    if isinstance(exc, ResourceModifiedError) or getattr(exc, "status_code", None) == 412:
        raise ETagConflictError(
            f"{what} changed since it was read (ETag condition failed)"
        ) from None
    if isinstance(exc, ServiceRequestError | ServiceResponseError) and not getattr(
        exc, "status_code", None
    ):
        raise StorageUnavailableError(
            f"{what}: Azure Storage not reachable at {endpoint} (is Azurite running?)"
        ) from None
    status = getattr(exc, "status_code", None)
    code = getattr(exc, "error_code", None)
    code = getattr(code, "value", code)  # the SDK's StorageErrorCode enum: the code sent
    said = ", ".join(str(part) for part in (status and f"HTTP {status}", code) if part)
    if isinstance(exc, ClientAuthenticationError) or status == 403:
        raise StorageAuthError(
            f"{what}: authentication refused by {endpoint}{f' ({said})' if said else ''}; "
            "check the account name and key in the connection string"
        ) from None
    if isinstance(exc, ResourceNotFoundError):
        raise StorageError(f"{what} not found at {endpoint} ({said or 'no status'})") from None
    reason = redact(str(getattr(exc, "reason", "") or type(exc).__name__))
    raise StorageError(
        f"{what}: storage error at {endpoint} ({f'{said}: ' if said else ''}{reason})"
    ) from None
