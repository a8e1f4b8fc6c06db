"""One run of the four notebooks for the whole session, on a small recording made from the HAR
fixtures (never the shipped one), through ``workbench report`` against the session's Azurite."""

from __future__ import annotations

import contextlib
import os
from pathlib import Path

import pytest
from tiny_recording import StudyRun, build_tiny_recording

from pipeline.storage import CONNECTION_STRING_ENV
from workbench.azurite import Azurite
from workbench.cli import main


@pytest.fixture(scope="session")
def tiny_recording(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_recording(tmp_path_factory.mktemp("recordings") / "tiny-feeds")


@pytest.fixture(scope="session")
def study_run(
    tiny_recording: Path, azurite: Azurite, tmp_path_factory: pytest.TempPathFactory
) -> StudyRun:
    """``workbench report`` on the tiny recording (all four notebooks, once per session)."""
    out = tmp_path_factory.mktemp("reports")
    capture = tmp_path_factory.mktemp("capture")
    os.environ[CONNECTION_STRING_ENV] = azurite.connection_string
    try:
        with (capture / "out").open("w") as stdout, (capture / "err").open("w") as stderr:
            with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
                code = main(
                    ["report", "--recording", str(tiny_recording), "--out", str(out),
                     "--processors", "1", "--service-time", "constant(0.5)", "--seeds", "3",
                     "--startup", "constant(10)", "--rollout-speed", "200"]
                )  # fmt: skip
    finally:
        os.environ.pop(CONNECTION_STRING_ENV, None)
    return StudyRun(
        tiny_recording, out, code, (capture / "out").read_text(), (capture / "err").read_text()
    )
