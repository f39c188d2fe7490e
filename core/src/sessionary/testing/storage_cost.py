"""Storage clauses about cost: work that must not grow with a session or with the store.

An append must not rewrite the session, a tail read must not read the whole session, and
a listing page must not read every session or any run. A stopwatch cannot prove that on
a busy machine; a counter the backend keeps can (:meth:`SuiteBase.make_counted_store`).
Each clause measures the same calls on a small store and on a grown one, and allows the
grown one at most twice the work (for the digits of larger numbers, a B-tree a level
deeper), where a wrong store does hundreds of times more.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sessionary.storage.base import Store
from sessionary.testing.storage_base import SuiteBase
from sessionary.testing.storage_data import make_run

__all__ = ["CostClauses"]

#: Runs of the grown session, and sessions of the grown store.
GROWN_RUNS = 400
GROWN_SESSIONS = 60
#: The grown store may do this many times the small store's work, no more.
SLACK = 2.0


def _cost(counter: Callable[[], int], work: Callable[[], object]) -> int:
    before = counter()
    work()
    return counter() - before


def _append(store: Store, session_id: str, times: int) -> Callable[[], None]:
    def append() -> None:
        for _ in range(times):
            store.append_run(make_run(session_id, user_id="u", text="same text", created_at=1.0))

    return append


class CostClauses(SuiteBase):
    """The cost clauses; they need :meth:`SuiteBase.make_counted_store`."""

    @pytest.mark.slow
    def test_appends_tail_reads_and_listing_do_not_grow_with_the_store(self) -> None:
        store, counter = self.make_counted_store()
        try:
            for index in range(6):
                store.append_run(make_run(f"few-{index}", user_id="u", text="same text"))
            _append(store, "short", 10)()
            small = self._measure(store, counter, "short")
            _append(store, "long", GROWN_RUNS)()
            for index in range(GROWN_SESSIONS):
                store.append_run(make_run(f"more-{index}", user_id="u", text="same text"))
            _append(store, "long", 1)()  # the long session lists first again
            grown = self._measure(store, counter, "long")
        finally:
            store.close()
        for what, cost in small.items():
            assert cost > 0, f"the counter counted no work for {what}"
            assert grown[what] <= SLACK * cost, (
                f"{what} did {grown[what]} units of work on a session of {GROWN_RUNS} runs "
                f"in a store of {GROWN_SESSIONS + 8} sessions, against {cost} on a session "
                f"of 10 in a store of 7: it reads or writes more than it returns"
            )

    @staticmethod
    def _measure(store: Store, counter: Callable[[], int], session_id: str) -> dict[str, int]:
        return {
            "append_run (3 appends)": _cost(counter, _append(store, session_id, 3)),
            "get_runs(last_n=5)": _cost(
                counter, lambda: store.get_runs(session_id, user_id="u", last_n=5)
            ),
            "get_session(last_n_runs=5)": _cost(
                counter, lambda: store.get_session(session_id, user_id="u", last_n_runs=5)
            ),
            "get_session_info": _cost(
                counter, lambda: store.get_session_info(session_id, user_id="u")
            ),
            "list_sessions(limit=5)": _cost(counter, lambda: store.list_sessions(limit=5)),
            "list_sessions(user_id=..., limit=5)": _cost(
                counter, lambda: store.list_sessions(user_id="u", limit=5)
            ),
        }
