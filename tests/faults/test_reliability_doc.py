"""``docs/reliability.md`` shows the whole fault matrix, and every row lost nothing, processed
nothing twice and showed one clear line. (Each fault's test compares its measured row with the
doc's; ``pytest tests/faults --update-reliability-doc`` writes the measured rows instead.)"""

from __future__ import annotations

import pytest

from tests.faults._matrix import FAULTS, doc_rows


def test_the_doc_has_a_row_for_every_fault_and_each_is_clean(
    request: pytest.FixtureRequest,
) -> None:
    if request.config.getoption("--update-reliability-doc"):
        pytest.skip("the doc is being written by this session")
    rows = doc_rows()
    assert list(rows) == list(FAULTS)
    for fault, row in rows.items():
        assert row["Lost"] == "0", fault
        assert row["Processed twice"] == "0", fault
        assert row["One clear line"] == "yes", fault
