"""Storage clauses about races: across processes, and reads that race writes."""

from __future__ import annotations

import multiprocessing
import threading

import pytest

from sessionary.domain.runs import RunStatus
from sessionary.storage.base import Capability, Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import _update_worker, make_run

__all__ = ["RaceClauses"]


class RaceClauses(SuiteBase):
    """Racing writers in separate processes, and a read never half of a write."""

    @pytest.mark.slow
    def test_racing_updates_from_4_processes_have_exactly_one_winner(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        # A store that checks the version and then writes in two steps, without a row lock
        # or an atomic compare-and-set, lets two processes win (threads can be lucky).
        self._require(Capability.MULTIPROCESS)
        url: str = request.getfixturevalue("store_url")
        paused = make_run("s1", status=RunStatus.PAUSED)
        store.append_run(paused)
        context = multiprocessing.get_context("spawn")
        barrier = context.Barrier(4)
        processes = [
            context.Process(target=_update_worker, args=(url, "s1", paused.run_id, w, barrier))
            for w in range(4)
        ]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=120)
        codes = sorted(-1 if p.exitcode is None else p.exitcode for p in processes)
        assert codes == [0, 3, 3, 3], "exit 0 is a win, 3 a ConflictError (-1: still running)"
        stored = store.get_run("s1", paused.run_id)
        assert stored is not None and stored.version == 2
        info = store.get_session_info("s1")
        assert info is not None and info.version == 2

    def test_a_session_is_read_from_one_snapshot_while_appends_race(self, store: Store) -> None:
        # Summary and runs read in two steps let a run appended in between show in one and
        # not the other: run_count says 7 and 8 runs come back, or the other way round.
        store.append_run(make_run("busy", user_id="u"))
        done = threading.Event()
        errors: list[BaseException] = []

        def append() -> None:
            try:
                for _ in range(60):
                    store.append_run(make_run("busy", user_id="u"))
            except BaseException as exc:  # reported below
                errors.append(exc)
            finally:
                done.set()

        writer = threading.Thread(target=append)
        writer.start()
        torn: list[str] = []
        reads = 0
        while not done.is_set() or reads < 3:
            reads += 1
            whole = store.get_session("busy", user_id="u")
            tail = store.get_session("busy", user_id="u", last_n_runs=2)
            for session in (whole, tail):
                assert session is not None
                expected = min(session.run_count, 2) if session is tail else session.run_count
                if len(session.runs) != expected or session.version != session.run_count:
                    torn.append(
                        f"run_count {session.run_count}, version {session.version}, "
                        f"{len(session.runs)} runs"
                    )
        writer.join()
        assert errors == []
        assert torn == [], f"{len(torn)} of {2 * reads} reads were torn, e.g. {torn[:3]}"
