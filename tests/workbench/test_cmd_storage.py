"""``workbench storage list|clean`` (issue 12, defect 5): what killed runs left in storage can
be found by its name and removed, oldest first, a dry run unless ``--yes``."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

import pytest

from pipeline.storage import StorageAccount
from workbench import cli, connection
from workbench.replay import ModeResources
from workbench.resources import parse_duration, parse_resource, run_base_name


@pytest.fixture
def storage_env(monkeypatch: pytest.MonkeyPatch, connection_string: str) -> str:
    monkeypatch.setenv("AZURE_STORAGE_CONNECTION_STRING", connection_string)
    return connection_string


async def _make(conn: str, bases: list[str]) -> None:
    async with StorageAccount(conn) as account:
        for base in bases:
            await account.queue(base).create_if_missing()
            await account.queue(f"{base}-poison").create_if_missing()
            await account.container(f"{base}-collected").create_if_missing()


async def _names(conn: str) -> set[str]:
    async with StorageAccount(conn) as account:
        return {*await account.list_queues("wb-"), *await account.list_containers("wb-")}


def test_replay_resources_share_the_prefix_and_the_time() -> None:
    names = ModeResources.fresh("streaming")
    parsed = [parse_resource("queue", names.queue), parse_resource("queue", names.poison_queue),
              parse_resource("container", names.collected),
              parse_resource("container", names.processed)]  # fmt: skip
    assert all(p is not None for p in parsed)
    assert {p.run for p in parsed if p} == {names.queue}
    made = [p.created_at for p in parsed if p]
    assert abs(datetime.now(UTC) - made[0]) < timedelta(seconds=5)
    assert all(len(n) <= 63 for n in (names.queue, names.collected, names.processed))
    assert parse_resource("queue", "cpr-batch-1a2b3c4d") is None  # not ours


def test_a_long_label_keeps_names_valid() -> None:
    base = run_base_name("Rollout: phased by source / week 3 (RSS + Mastodon)")
    assert len(f"{base}-collected") <= 63 and "--" not in base and base == base.lower()


@pytest.mark.parametrize(("text", "seconds"), [("90", 90), ("90s", 90), ("30m", 1800),
                                               ("2h", 7200), ("7d", 604800), ("1.5h", 5400)])  # fmt: skip
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


def test_list_then_clean_older_than(storage_env: str, capsys: pytest.CaptureFixture[str]) -> None:
    now = datetime.now(UTC)
    old = [
        run_base_name("batch", now - timedelta(days=3)),
        run_base_name("x", now - timedelta(hours=30)),
    ]
    fresh = run_base_name("streaming", now)
    asyncio.run(_make(storage_env, [*old, fresh]))
    try:
        assert cli.main(["storage", "list"]) == 0
        out = capsys.readouterr().out
        for base in [*old, fresh]:
            assert f"queue     {base} " in out and f"container {base}-collected " in out
        assert out.index(old[0]) < out.index(old[1]) < out.index(fresh)  # oldest first

        assert cli.main(["storage", "clean", "--older-than", "1d"]) == 0
        out = capsys.readouterr().out
        assert "nothing removed (dry run)" in out and fresh not in out
        assert sum(line.startswith("would remove queue") for line in out.splitlines()) == 4
        assert {*old, fresh} <= asyncio.run(_names(storage_env))  # a dry run removes nothing

        assert cli.main(["storage", "clean", "--older-than", "1d", "--yes"]) == 0
        out = capsys.readouterr().out
        assert "removed 6 queue(s) and container(s) of 2 workbench run(s)" in out
        left = asyncio.run(_names(storage_env))
        assert not any(name.startswith(tuple(old)) for name in left)
        assert {fresh, f"{fresh}-poison", f"{fresh}-collected"} <= left
    finally:
        asyncio.run(_drop(storage_env, fresh))


async def _drop(conn: str, base: str) -> None:
    async with StorageAccount(conn) as account:
        for queue in (base, f"{base}-poison"):
            await account.delete_queue(queue)
        await account.delete_container(f"{base}-collected")


def test_without_storage_says_what_to_do(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(connection, "running_endpoint", lambda *a, **k: None)
    assert cli.main(["storage", "list"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("workbench storage: error: no storage to look at") and "\n" not in err


def test_a_bad_duration_is_a_one_line_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["storage", "clean", "--older-than", "soon"])
    assert exit_info.value.code == 2
    [line] = [x for x in capsys.readouterr().err.splitlines() if "error:" in x]
    assert "--older-than" in line and "90s, 30m, 2h or 7d" in line
