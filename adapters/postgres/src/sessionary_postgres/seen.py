"""The session rows a PostgreSQL store wrote last, for appending without the lock.

:meth:`~sessionary_postgres.operations.PostgresOperations._append_unchanged` computes an
append's summary from the row the store's last write to that session returned, and
the server writes it only if it still holds exactly that row. A row remembered here is
never trusted, only compared: a stale one costs one statement that writes nothing.
"""

from __future__ import annotations

from typing import Any, Final

from sessionary.domain.runs import Run
from sessionary.errors import ConflictError

__all__ = ["SEEN_ROWS", "SeenRows", "twin"]

#: How many sessions' rows a store keeps (a few KB each); then it starts again.
SEEN_ROWS: Final = 256


class SeenRows:
    """The rows, by session ID, kept on the store object (made on first use)."""

    def _seen(self) -> dict[str, tuple[Any, ...]]:
        """The session rows this store last wrote, by session ID."""
        seen: dict[str, tuple[Any, ...]] | None = self.__dict__.get("_seen_rows")
        if seen is None:
            seen = self.__dict__.setdefault("_seen_rows", {})
        return seen

    def _saw(self, row: tuple[Any, ...]) -> None:
        """Remember a session row a write returned (``SESSION_COLUMNS``, in order)."""
        seen = self._seen()
        if len(seen) >= SEEN_ROWS:
            seen.clear()  # one step, safe beside other threads; a miss only costs a lock
        seen[row[0]] = tuple(row)


def twin(run: Run) -> ConflictError:
    """The error of a run whose ID the session holds already."""
    return ConflictError(f"run {run.run_id!r} already exists in session {run.session_id!r}")
