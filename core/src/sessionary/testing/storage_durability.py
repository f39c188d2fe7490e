"""Storage clauses about durability: export, import, concurrency, corruption, capabilities."""

from __future__ import annotations

import json
import multiprocessing
import threading
import time

import pytest

from sessionary import codec
from sessionary.domain.sessions import Session
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    StoreUnavailableError,
)
from sessionary.storage.base import Capability, Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import _append_worker, make_run, rich_run

__all__ = ["DurabilityClauses"]


class DurabilityClauses(SuiteBase):
    """Storage clauses about durability: export, import, concurrency, corruption, capabilities."""

    # ------------------------------------------------------------------ export and import

    def test_export_and_import_round_trip(self, store: Store) -> None:
        store.append_run(make_run("s1", user_id="alice", text="one"))
        store.append_run(rich_run("s1", user_id="alice"))
        store.update_session("s1", name="Exported", name_source="manual", metadata={"k": "v"})
        original = store.get_session("s1")
        assert original is not None
        exported = codec.dumps(original)
        json.loads(exported)  # it is plain JSON
        with pytest.raises(ConflictError):
            store.import_session(original)
        assert store.delete_session("s1")
        imported = codec.loads(exported)
        assert isinstance(imported, Session)
        store.import_session(imported)
        again = store.get_session("s1")
        assert again == original
        store.import_session(imported, replace=True)
        assert store.get_session("s1") == original
        follow = store.append_run(make_run("s1", user_id="alice"))
        assert follow.run_count == 3 and follow.version == original.version + 1

    # ------------------------------------------------------------------ concurrency

    def test_concurrent_appends_from_8_threads_all_persist(self, store: Store) -> None:
        per_thread = self.concurrent_runs_per_thread
        barrier = threading.Barrier(8)
        errors: list[BaseException] = []

        def writer(worker: int) -> None:
            barrier.wait()
            try:
                for index in range(per_thread):
                    store.append_run(
                        make_run(
                            "busy", text=f"{worker}:{index}", input_tokens=1, output_tokens=worker
                        )
                    )
            except BaseException as exc:
                errors.append(exc)

        threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert errors == []
        runs = store.get_runs("busy")
        assert len(runs) == 8 * per_thread
        assert runs == store.get_runs("busy")  # the order is stable
        for worker in range(8):
            mine = [int(r.input.split(":")[1]) for r in runs if r.input.startswith(f"{worker}:")]  # type: ignore[union-attr]
            assert mine == list(range(per_thread))
        info = store.get_session_info("busy")
        assert info is not None
        assert info.run_count == 8 * per_thread
        assert info.input_tokens == 8 * per_thread
        assert info.output_tokens == per_thread * sum(range(8))

    # ------------------------------------------------------------------ corruption

    def test_a_corrupt_record_names_its_session_and_spares_the_others(self, store: Store) -> None:
        store.append_run(make_run("healthy", user_id="alice"))
        store.append_run(make_run("broken", user_id="alice"))
        self.corrupt_session(store, "broken")
        with pytest.raises(CorruptRecordError, match="broken"):
            store.get_session("broken")
        healthy = store.get_session("healthy")
        assert healthy is not None and healthy.run_count == 1
        listed = [i.session_id for i in store.list_sessions(user_id="alice").items]
        assert "healthy" in listed
        store.append_run(make_run("healthy", user_id="alice"))
        assert len(store.get_runs("healthy")) == 2

    def test_a_corrupt_session_record_names_its_session_and_spares_the_others(
        self, store: Store
    ) -> None:
        store.append_run(make_run("healthy", user_id="alice"))
        store.append_run(make_run("broken", user_id="alice"))
        self.corrupt_session_record(store, "broken")
        for read in (store.get_session, store.get_session_info):
            with pytest.raises(CorruptRecordError, match="broken"):
                read("broken")
        healthy = store.get_session("healthy")
        assert healthy is not None and healthy.run_count == 1
        listed = [i.session_id for i in store.list_sessions(user_id="alice").items]
        assert listed == ["healthy"], "a listing shows the corrupt session or stops at it"
        store.append_run(make_run("healthy", user_id="alice"))
        assert len(store.get_runs("healthy")) == 2

    def test_an_unreachable_server_is_store_unavailable_naming_it(self) -> None:
        store, named = self.unreachable_store()
        try:
            with pytest.raises(StoreUnavailableError, match=named):
                store.get_session_info("s1")
            with pytest.raises(StoreUnavailableError, match=named):
                store.append_run(make_run("s1"))
        finally:
            store.close()

    # ------------------------------------------------------------------ schema and admin

    def test_a_fresh_store_is_at_the_latest_schema(self, store: Store) -> None:
        status = store.schema_status()
        assert status.current == status.latest
        assert not status.needs_migration
        assert isinstance(store.migrate(), list)
        store.ping()

    # ------------------------------------------------------------------ capabilities

    def test_data_survives_reopening(self, store: Store, request: pytest.FixtureRequest) -> None:
        self._require(Capability.PERSISTENT)
        from sessionary.resolve import open_db

        url: str = request.getfixturevalue("store_url")
        run = make_run("kept", user_id="alice")
        store.append_run(run)
        with open_db(url) as other:
            assert other.get_run("kept", run.run_id, user_id="alice") == run

    @pytest.mark.slow
    def test_four_processes_append_without_losing_a_run(
        self, store: Store, request: pytest.FixtureRequest
    ) -> None:
        self._require(Capability.MULTIPROCESS)
        url: str = request.getfixturevalue("store_url")
        per_process = 50
        context = multiprocessing.get_context("spawn")
        processes = [
            context.Process(target=_append_worker, args=(url, "shared", w, per_process))
            for w in range(4)
        ]
        for p in processes:
            p.start()
        for p in processes:
            p.join(timeout=120)
        assert [p.exitcode for p in processes] == [0, 0, 0, 0]
        runs = store.get_runs("shared")
        assert len(runs) == 4 * per_process
        assert len({r.run_id for r in runs}) == 4 * per_process
        for worker in range(4):
            mine = [int(r.input.split(":")[1]) for r in runs if r.input.startswith(f"{worker}:")]  # type: ignore[union-attr]
            assert mine == list(range(per_process))
        info = store.get_session_info("shared")
        assert info is not None
        assert info.run_count == 4 * per_process
        assert info.input_tokens == sum(r.metrics.input_tokens for r in runs)
        assert info.output_tokens == sum(r.metrics.output_tokens for r in runs)

    @pytest.mark.slow
    def test_sessions_expire_with_their_index_entries(self) -> None:
        self._require(Capability.TTL)
        ttl = self.ttl_seconds
        store = self.make_ttl_store(ttl)
        try:
            store.append_run(make_run("short", user_id="alice"))
            store.append_run(make_run("kept", user_id="alice"))
            time.sleep(ttl * 0.6)
            store.append_run(make_run("kept", user_id="alice"))  # a write extends the expiry
            time.sleep(ttl * 0.4 + self.ttl_grace)
            assert store.get_session("short") is None
            assert store.get_session_info("short") is None
            kept = store.get_session("kept")
            assert kept is not None and kept.run_count == 2
            listed = [i.session_id for i in store.list_sessions(user_id="alice").items]
            assert listed == ["kept"]
        finally:
            store.close()
