"""The storage conformance suite: every clause of the storage contract, as pytest tests.

Subclass :class:`StorageConformance` in your adapter's tests and provide a ``store``
fixture that yields an empty store, plus :meth:`~StorageConformance.corrupt_session`.
Declare optional capabilities in ``capabilities``; the tests of a capability you do
not declare are skipped with a reason that says so, and the tests of one you do
declare need the matching fixtures (``store_url``, ``make_ttl_store``)::

    class TestMyStore(StorageConformance):
        capabilities = frozenset({Capability.PERSISTENT, Capability.MULTIPROCESS})

        @pytest.fixture
        def store(self, tmp_path):
            with MyStore(path=tmp_path / "db") as store:
                yield store

        @pytest.fixture
        def store_url(self, store):
            return store.url

        def corrupt_session(self, store, session_id):
            ...  # damage one stored record of that session, as a broken disk would

A subclass must not delete or weaken a suite test; one that cannot pass is marked
``xfail`` with the reason.
"""

from __future__ import annotations

from sessionary.testing.storage_conditional import ConditionalClauses
from sessionary.testing.storage_cost import CostClauses
from sessionary.testing.storage_data import BAD_IDS, HOSTILE_IDS, make_run, rich_run
from sessionary.testing.storage_durability import DurabilityClauses
from sessionary.testing.storage_import import ImportClauses
from sessionary.testing.storage_inbox import InboxClauses
from sessionary.testing.storage_input import InputClauses
from sessionary.testing.storage_races import RaceClauses
from sessionary.testing.storage_reads import TailReadClauses
from sessionary.testing.storage_runs import RunClauses
from sessionary.testing.storage_schema import SchemaClauses
from sessionary.testing.storage_sessions import SessionClauses
from sessionary.testing.storage_state import StateClauses
from sessionary.testing.storage_tail import TailClauses

__all__ = ["BAD_IDS", "HOSTILE_IDS", "StorageConformance", "make_run", "rich_run"]


class StorageConformance(
    RunClauses,
    SessionClauses,
    DurabilityClauses,
    ImportClauses,
    ConditionalClauses,
    SchemaClauses,
    InputClauses,
    StateClauses,
    TailClauses,
    TailReadClauses,
    RaceClauses,
    CostClauses,
    InboxClauses,
):
    """The storage contract as tests. See the module documentation for how to use it."""
