"""``workbench synth``: profiles, the sources.yaml they write, the fixtures built from them."""

from __future__ import annotations

import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest
import yaml

from pipeline.config import parse_sources
from workbench.cli import main
from workbench.paths import PROJECT_ROOT as ROOT
from workbench.synth import DEFAULT_PROFILE, PROFILES, generate
from workbench.synth._exchange import Uniform

FIXTURES = ROOT / "tests" / "fixtures" / "har"


@pytest.mark.parametrize("name", sorted(PROFILES))
def test_sources_yaml_holds_every_entry_as_written(name: str) -> None:
    profile = PROFILES[name]
    text = profile.sources_yaml()
    assert yaml.safe_load(text)["sources"] == profile.entries()
    assert max(len(line) for line in text.splitlines()) < 96
    names = [s.name for s in parse_sources(yaml.safe_load(text)).sources]
    assert len(names) == len(set(names))


def test_each_source_name_is_spelled_once_in_the_generator() -> None:
    code = "\n".join(p.read_text() for p in (ROOT / "workbench" / "synth").glob("*.py"))
    for profile in PROFILES.values():
        for entry in profile.entries():
            spelled = len(re.findall(rf"[\"']{re.escape(entry['name'])}[\"']", code))
            assert spelled == 1, (entry["name"], spelled)


def test_fixture_builder_reproduces_the_committed_fixtures(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(FIXTURES / "build_fixtures.py"), str(tmp_path)],
        check=True,
        cwd=tmp_path,
    )
    built = sorted(p.name for p in tmp_path.glob("*.har"))
    assert built == ["feeds.har", "mastodon.har", "reddit.har"]
    for name in built:
        assert (tmp_path / name).read_bytes() == (FIXTURES / name).read_bytes(), name


def test_help_names_every_profile_and_unknown_ones_are_refused(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["synth", "--help"])
    assert exited.value.code == 0
    out = " ".join(capsys.readouterr().out.split())
    for profile in PROFILES.values():
        assert profile.name in out and f"data/recordings/{profile.folder}" in out
    assert f"({DEFAULT_PROFILE})" in out
    with pytest.raises(SystemExit) as exited:
        main(["synth", "--profile", "nope", "--out", "x"])
    assert exited.value.code == 2
    assert "invalid choice: 'nope'" in capsys.readouterr().err


def test_a_latency_past_the_source_timeout_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = PROFILES["design-scale"]
    slow = replace(base.feeds[0], latency=Uniform(30.0, 31.0))  # timeout_s is 30
    monkeypatch.setitem(PROFILES, "slow", replace(base, name="slow", feeds=(slow,)))
    with pytest.raises(ValueError, match=rf"{slow.name}: latency 30\.\d s reaches .* 30 s"):
        generate(tmp_path / "slow", profile="slow")


@pytest.mark.parametrize("profile", ["design-scale", "stalled-feed"])
def test_cli_writes_the_shipped_profile_recording_and_readme(
    profile: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    shipped = ROOT / "data" / "recordings" / profile
    out = tmp_path / profile
    assert main(["synth", "--profile", profile, "--seed", "42", "--out", str(out)]) == 0
    assert f"profile {profile}, seed 42" in capsys.readouterr().out
    for path in sorted(shipped.iterdir()):
        assert (out / path.name).read_bytes() == path.read_bytes(), path.name
