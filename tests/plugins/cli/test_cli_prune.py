"""``sessions prune`` against a user who comes back while it runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import attrs
import pytest
from click.testing import CliRunner
from sessionary_cli import main
from sessionary_cli.transfer import iter_infos

from sessionary import open_db
from sessionary.domain.sessions import SessionInfo
from sessionary.storage.memory import MemoryDb
from sessionary.testing.storage import make_run


def test_prune_skips_a_session_that_got_a_run_after_it_was_listed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"memory://prune-{request.node.name}"
    store = open_db(url)
    assert isinstance(store, MemoryDb)
    for sid in ("idle", "back"):
        store.append_run(make_run(sid, user_id="alice"))
        info = store._sessions[sid]
        old = time.time() - 40 * 86400
        store._sessions[sid] = attrs.evolve(info, updated_at=old, last_run_at=old)
    late = make_run("back", user_id="alice", text="I am back")
    listing = iter_infos

    def list_then_return(*args: Any, **kwargs: Any) -> Iterator[SessionInfo]:
        yield from listing(*args, **kwargs)
        # The user returns after prune listed the idle sessions, before it deletes.
        store.append_run(late)

    monkeypatch.setattr("sessionary_cli.prune.iter_infos", list_then_return)
    result = CliRunner().invoke(main, ["sessions", "prune", "--db", url, "--older-than", "30d"])
    assert result.exit_code == 0, result.output
    assert store.get_session("idle") is None
    assert store.get_run("back", late.run_id) is not None, "prune deleted a run it never saw"
    assert "deleted 1 session(s)" in result.stdout
    assert "skipped 1 session(s) that changed" in result.stdout


def test_prune_does_not_trim_a_session_written_to_after_it_was_listed(
    request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"memory://prune-{request.node.name}"
    store = open_db(url)
    for _ in range(3):
        store.append_run(make_run("long", user_id="alice"))
    late = make_run("long", user_id="alice", text="I am back")

    def list_then_return(*args: Any, **kwargs: Any) -> Iterator[SessionInfo]:
        yield from iter_infos(*args, **kwargs)
        store.append_run(late)

    monkeypatch.setattr("sessionary_cli.prune.iter_infos", list_then_return)
    result = CliRunner().invoke(main, ["sessions", "prune", "--db", url, "--keep-last-runs", "1"])
    assert result.exit_code == 0, result.output
    assert len(store.get_runs("long")) == 4, "prune trimmed a session changed after listing"
    assert "trimmed 0 run(s) from 0 session(s); skipped 1 session(s)" in result.stdout
