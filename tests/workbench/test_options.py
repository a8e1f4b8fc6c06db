"""The options several commands share are checked the same way everywhere, before any work."""

from __future__ import annotations

import pytest

from workbench import cli
from workbench.options import DEFAULT_REPLAY_SPEED, DEFAULT_SERVICE_TIME, INSPECT_SPEED

# Each command with its required arguments (none of these reach storage: parsing fails first).
SPEED_COMMANDS = [
    ["replay"],
    ["report"],
    ["process"],
    ["inspect", "data/recordings/synthetic-tech"],
]
SERVICE_TIME_COMMANDS = [
    ["replay"],
    ["report"],
    ["process"],
    ["simulate", "--arrivals", "burst:1@0"],
    ["sweep", "--arrivals", "burst:1@0", "--out", "x.csv"],
]


def _error_line(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        cli.build_parser().parse_args(argv)
    assert stop.value.code == 2
    return capsys.readouterr().err.strip().splitlines()[-1]


@pytest.mark.parametrize("command", SPEED_COMMANDS, ids=lambda c: c[0])
@pytest.mark.parametrize("bad", ["0", "-1", "nan", "inf", "fast"])
def test_speed_must_be_finite_and_positive(
    command: list[str], bad: str, capsys: pytest.CaptureFixture[str]
) -> None:
    line = _error_line([*command, "--speed", bad], capsys)
    assert "argument --speed: must be a" in line and bad in line


@pytest.mark.parametrize("command", SERVICE_TIME_COMMANDS, ids=lambda c: c[0])
def test_service_time_is_one_grammar_everywhere(
    command: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    line = _error_line([*command, "--service-time", "normal(1)"], capsys)
    assert "argument --service-time: distribution 'normal(1)': unknown distribution" in line


def test_defaults_are_the_documented_ones() -> None:
    parser = cli.build_parser()
    assert parser.parse_args(["replay"]).speed == DEFAULT_REPLAY_SPEED == 20.0
    assert parser.parse_args(["inspect", "x"]).speed == INSPECT_SPEED == 100.0
    assert parser.parse_args(["process"]).speed == 1.0
    assert parser.parse_args(["process"]).service_time is None  # production: no simulated work
    for command in (["replay"], ["simulate", "--arrivals", "burst:1@0"]):
        assert str(parser.parse_args(command).service_time) == DEFAULT_SERVICE_TIME
