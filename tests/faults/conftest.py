"""The fault matrix's fixtures: the row recorder (checked against ``docs/reliability.md``, or
written into it with ``--update-reliability-doc``) and the misbehaving HTTP server."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.faults._matrix import Row, doc_rows, stable_cells, write_doc
from tests.faults._server import FaultServer, fault_server


class Matrix:
    def __init__(self, update: bool) -> None:
        self.update = update
        self.rows: dict[str, Row] = {}
        self.doc = doc_rows()

    def record(self, row: Row) -> None:
        """Keep the row; every row must have lost nothing, processed nothing twice and shown
        one clear line, and (unless the doc is being updated) match the doc's row."""
        self.rows[row.fault] = row
        assert row.lost == 0, row
        assert row.processed_twice == 0, row
        assert row.clear_line, row
        if not self.update:
            shown = self.doc.get(row.fault)
            assert shown is not None, (
                f"docs/reliability.md has no row for {row.fault!r}: "
                "run `pytest tests/faults --update-reliability-doc`"
            )
            expected = {k: shown[k] for k in stable_cells(row)}
            assert stable_cells(row) == expected, (
                f"{row.fault}: measured {stable_cells(row)}, the doc says {expected}: "
                "run `pytest tests/faults --update-reliability-doc`"
            )


@pytest.fixture(scope="session")
def matrix(request: pytest.FixtureRequest) -> Iterator[Matrix]:
    recorder = Matrix(bool(request.config.getoption("--update-reliability-doc")))
    yield recorder
    if recorder.update and recorder.rows:
        write_doc(recorder.rows)


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with fault_server() as faults:
        yield faults
