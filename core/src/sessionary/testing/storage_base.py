"""What the storage conformance suite asks of an adapter's test class."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import ClassVar

import pytest

from sessionary.storage.base import Capability, Store

__all__ = ["SuiteBase"]


class SuiteBase:
    """Fixtures and hooks an adapter's test class overrides; the clauses build on them."""

    #: Optional capabilities the backend under test has.
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: Runs each thread appends in the concurrency test.
    concurrent_runs_per_thread: ClassVar[int] = 25

    # ------------------------------------------------------------------ to override

    @pytest.fixture
    def store(self) -> Iterator[Store]:
        """An empty store. Override in the subclass."""
        raise NotImplementedError("override the 'store' fixture to return your backend")

    @pytest.fixture
    def store_url(self, store: Store) -> str:
        """A URL that opens the same data as ``store`` (PERSISTENT and MULTIPROCESS)."""
        raise NotImplementedError("override 'store_url' when declaring PERSISTENT or MULTIPROCESS")

    def corrupt_session(self, store: Store, session_id: str) -> None:
        """Damage a stored record of the session so that it cannot be decoded."""
        raise NotImplementedError("override corrupt_session to damage one stored record")

    def corrupt_run_record(self, store: Store, session_id: str) -> None:
        """Damage the stored record of the session's only run so it cannot be decoded.

        The tolerant-read clauses use it; by default it is :meth:`corrupt_session`.
        Override it when that damages another record (the session's summary, say).
        """
        self.corrupt_session(store, session_id)

    def stamp_schema(self, store: Store, session_id: str, *, newer: bool) -> None:
        """Mark the stored data (at least that session's) as written by a newer schema.

        Do it behind the store's back, as another process migrating the data would (a
        second connection, or the raw client), so the store under test learns of it
        only by looking. ``newer=False`` puts the current version back. Override when
        the backend records a schema version; the schema clauses are skipped otherwise.
        """
        pytest.skip(f"{type(self).__name__} does not override stamp_schema")

    def corrupt_session_record(self, store: Store, session_id: str) -> None:
        """Damage the session's own record (its summary), not a run's, as a broken disk would.

        Override when the backend keeps the summary encoded; the clause is skipped otherwise.
        """
        pytest.skip(f"{type(self).__name__} does not override corrupt_session_record")

    def make_counted_store(self) -> tuple[Store, Callable[[], int]]:
        """An empty store (data of its own) and a counter of the work it has done so far.

        The counter returns a running total of units the backend itself measures, which
        grow with the records a call reads or writes: bytes between the store and its
        server (a :class:`~sessionary.testing.SlowProxy` counts them in
        ``bytes_passed``), SQLite virtual-machine steps (a progress handler), documents
        returned. The cost clauses use it to prove, without a stopwatch, that an append
        does not rewrite the session and that a tail read or a listing page reads only
        what it returns. Override when the backend can count; skipped otherwise.
        """
        pytest.skip(f"{type(self).__name__} does not override make_counted_store")

    def unreachable_store(self) -> tuple[Store, str]:
        """A store whose server is not there (a closed port), and the text its error must
        contain to name the server (the port, say). For stores on a server; skipped
        otherwise."""
        pytest.skip(f"{type(self).__name__} does not override unreachable_store")

    def make_ttl_store(self, ttl: float) -> Store:
        """An empty store whose sessions expire ``ttl`` seconds after their last write."""
        raise NotImplementedError("override make_ttl_store when declaring TTL")

    #: The TTL the expiry test uses, and how long past it expiry may take.
    ttl_seconds: ClassVar[float] = 2.0
    ttl_grace: ClassVar[float] = 0.5

    def _require(self, capability: Capability) -> None:
        if capability not in self.capabilities:
            pytest.skip(
                f"{type(self).__name__} does not declare the capability {capability.value!r}"
            )
