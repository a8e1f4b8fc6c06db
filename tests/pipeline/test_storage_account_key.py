"""A connection string whose account key is not base64 says so (issue 12, defect 10): it
used to fail on the first request as "authentication refused ... (HTTP None, None)"."""

from __future__ import annotations

import pytest

from pipeline.errors import StorageError
from pipeline.storage import StorageAccount
from workbench.azurite import DEV_KEY, connection_string, free_port

BAD_KEYS = ["not-base64!!", "abc", "Zm9v=YmFy"]


@pytest.mark.parametrize("key", BAD_KEYS)
def test_a_key_that_is_not_base64_is_named_without_showing_it(key: str) -> None:
    port = free_port()
    conn = connection_string(port, port).replace(DEV_KEY, key)
    with pytest.raises(StorageError) as info:
        StorageAccount(conn)
    message = str(info.value)
    assert "AccountKey" in message and "not valid base64" in message, message
    assert key not in message and "HTTP None" not in message


def test_the_development_key_is_accepted() -> None:
    port = free_port()
    StorageAccount(connection_string(port, port))
