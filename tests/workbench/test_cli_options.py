"""Every option is checked before any work starts (issue 12, defects 8 and 9).

``--processor-concurrency 0`` and an unknown service-time distribution used to fail only after
collection started; ``--json`` under a file failed after the whole replay with a traceback, and
``--json`` created any folder it named; ``--speed inf`` ran. Each case here must exit 2 with one
line naming the option, and must not start Azurite, open storage or create a folder.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.storage import StorageAccount
from workbench import cli
from workbench.azurite import Azurite

BAD_SCALEDOBJECT = """\
apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: processor}
spec:
  scaleTargetRef: {name: processor}
  maxReplicaCont: 3
  triggers:
    - type: azure-queue
      metadata: {queueName: content-processing-requests, queueLength: "5"}
"""


@pytest.fixture
def no_work(monkeypatch: pytest.MonkeyPatch) -> None:
    """Starting Azurite or opening storage fails the test: the error must come first."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("work started before the options were checked")

    monkeypatch.setattr(Azurite, "start", refuse)
    monkeypatch.setattr(StorageAccount, "__aenter__", refuse)
    monkeypatch.delenv("AZURE_STORAGE_CONNECTION_STRING", raising=False)


def _cases(tmp: Path) -> list[tuple[list[str], str]]:
    a_file = tmp / "a-file"
    return [
        (["replay", "--processor-concurrency", "0"], "--processor-concurrency"),
        (["replay", "--service-time", "weird(1)"], "--service-time"),
        (["replay", "--speed", "inf"], "--speed"),
        (["replay", "--speed", "nan"], "--speed"),
        (["replay", "--rate-limit", "inf"], "--rate-limit"),
        (["replay", "--rate-limit", "nan"], "--rate-limit"),
        (["replay", "--rate-limit", "0"], "--rate-limit"),
        (["replay", "--send-concurrency", "0"], "--send-concurrency"),
        (["replay", "--json", str(a_file / "m.json")], "--json"),
        (["replay", "--json", str(tmp / "missing" / "m.json")], "--json"),
        (["replay", "--json", str(tmp)], "--json"),
        (["report", "--out", str(a_file / "sub")], "--out"),
        (["report", "--out", str(tmp / "missing" / "deeper")], "--out"),
        (["report", "--startup", "soon"], "--startup"),
        (["report", "--seeds", "0"], "--seeds"),
        (["report", "--scaledobject", str(tmp / "bad.yaml")], "maxReplicaCont"),
        (["inspect", "data/recordings/synthetic-tech", "--speed", "inf"], "--speed"),
        (["inspect", "data/recordings/synthetic-tech", "--json", str(tmp / "missing" / "i.json")],
         "--json"),
        (["record", "--sources", "x.yaml", "--out", str(tmp / "r"), "--every", "nan"], "--every"),
        (["record", "--sources", "x.yaml", "--out", str(tmp / "r"), "--runs", "0"], "--runs"),
        (["record", "--sources", "x.yaml", "--out", str(tmp / "missing" / "r")], "--out"),
        (["synth", "--out", str(tmp / "missing" / "s")], "--out"),
        (["process", "--idle-exit", "nan"], "--idle-exit"),
        (["process", "--idle-exit", "inf"], "--idle-exit"),
        (["simulate", "--arrivals", "burst:1@0", "--json", str(tmp / "missing" / "s.json")],
         "--json"),
        (["tune", "--arrivals", "burst:1@0", "--queue-length", "4,inf"], "--queue-length"),
        (["sweep", "--arrivals", "burst:1@0", "--set", "queue_length=inf", "--out",
          str(tmp / "s.csv")], "--set"),
    ]  # fmt: skip


def test_every_case_is_listed(tmp_path: Path) -> None:
    commands = {argv[0] for argv, _ in _cases(tmp_path)}
    assert commands == {"replay", "report", "inspect", "record", "synth", "process", "simulate",
                        "tune", "sweep"}  # fmt: skip


@pytest.mark.parametrize("number", range(27))
def test_bad_options_fail_at_once_in_one_line(
    number: int, tmp_path: Path, no_work: None, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "a-file").write_text("x")
    (tmp_path / "bad.yaml").write_text(BAD_SCALEDOBJECT)
    cases = _cases(tmp_path)
    assert len(cases) == 27
    argv, named = cases[number]
    before = sorted(p.name for p in tmp_path.iterdir())
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors, after its usage line
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2, err
    assert "Traceback" not in err
    [line] = [x for x in err.splitlines() if "error:" in x]
    assert line.startswith(f"workbench {argv[0]}") and named in line, line
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no folder was created
