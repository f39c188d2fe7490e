"""MongoDb: sessions in one collection, runs in another, one document per run.

Writes are designed for MongoDB's real guarantees (each single-document operation is
atomic; unique indexes hold across concurrent writers), with no client-side locks:

- Appending a run is three single-document operations: reserve the next sequence
  number of the session (``find_one_and_update`` with ``$inc``, creating the session
  on its first run and refusing another user's session in the same step), insert the
  run document, then fold the run into the session's summary with ``$inc``/``$max``.
  Runs are ordered by that sequence, totally, under any number of writers.
- A paused run is updated with a conditional ``find_one_and_update`` on its version,
  so two writers continuing the same run cannot both win.
- Every session document carries a random ``key`` that its runs point to. A session
  deleted and created again under the same ID gets a new key, so runs left behind by
  an interrupted delete can never reappear in the new session.

See ``docs/storage/mongodb.md`` for the layout, indexes, limits and failure modes.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionPage
from sessionary.errors import CorruptRecordError
from sessionary.storage.base import Capability, ListFilters, encode_cursor
from sessionary_mongodb.connection import DEFAULT_SERVER_SELECTION_TIMEOUT_MS
from sessionary_mongodb.documents import info_from_doc, run_from_doc
from sessionary_mongodb.writes import MongoWrites

__all__ = ["DEFAULT_SERVER_SELECTION_TIMEOUT_MS", "MongoDb"]


class MongoDb(MongoWrites):
    """Sessions stored in MongoDB: ``mongodb://`` and ``mongodb+srv://``.

    >>> db = MongoDb(db_url="mongodb://localhost:27017", db_name="sessionary")  # no I/O yet

    Options: ``db_url`` (default ``mongodb://localhost:27017``), ``db_name`` (default
    the URL's path, else ``sessionary``), ``client`` (a ``pymongo.MongoClient`` you
    configured yourself instead of ``db_url``; :meth:`close` leaves it open),
    ``sessions_collection`` and ``runs_collection``, ``ttl`` (seconds after its last
    write at which a session expires), ``max_document_bytes`` (16 MiB) and
    ``server_selection_timeout_ms`` (3000).
    """

    name: ClassVar[str] = "mongodb"
    url_schemes: ClassVar[tuple[str, ...]] = ("mongodb", "mongodb+srv")
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {Capability.PERSISTENT, Capability.MULTIPROCESS, Capability.TTL}
    )

    @classmethod
    def from_url(cls, url: str) -> MongoDb:
        """Open ``mongodb://HOST[:PORT]/DBNAME?options`` (database ``sessionary`` if none)."""
        return cls(db_url=url)

    # ------------------------------------------------------------------ reading

    def _get_session(
        self, session_id: str, user_id: str | None, last_n_runs: int | None
    ) -> Session | None:
        self._ensure()
        with self._do(f"reading session {session_id!r}"):
            doc = self._find_session(session_id, user_id)
            if doc is None:
                return None
            info = info_from_doc(doc)
            if last_n_runs == 0:
                return Session.from_info(info, ())
            query = {"session_key": self._key_of(doc)}
            if last_n_runs is None:
                docs = list(self._runs.find(query, sort=[("seq", 1)]))
            else:
                docs = list(self._runs.find(query, sort=[("seq", -1)], limit=last_n_runs))
                docs.reverse()
        return Session.from_info(info, [run_from_doc(session_id, d) for d in docs])

    def _get_session_info(self, session_id: str, user_id: str | None) -> SessionInfo | None:
        self._ensure()
        with self._do(f"reading session {session_id!r}"):
            doc = self._find_session(session_id, user_id)
        return None if doc is None else info_from_doc(doc)

    def _get_run(self, session_id: str, run_id: str, user_id: str | None) -> Run | None:
        self._ensure()
        with self._do(f"reading run {run_id!r} of session {session_id!r}"):
            doc = self._sessions.find_one(self._session_filter(session_id, user_id), {"key": 1})
            if doc is None:
                return None
            found = self._runs.find_one({"session_key": self._key_of(doc), "run_id": run_id})
        return None if found is None else run_from_doc(session_id, found)

    def _list_sessions(
        self, filters: ListFilters, limit: int, after: tuple[float, str] | None
    ) -> SessionPage:
        self._ensure()
        query: dict[str, Any] = dict(self._live())
        for field in ("user_id", "agent_id", "team_id"):
            value = getattr(filters, field)
            if value is not None:
                query[field] = value
        if filters.session_type is not None:
            query["session_type"] = filters.session_type.value
        if filters.name_contains is not None:
            query["name_folded"] = {"$regex": re.escape(filters.name_contains.casefold())}
        if after is not None:
            updated_at, session_id = after
            query["$or"] = [
                {"updated_at": {"$lt": updated_at}},
                {"updated_at": updated_at, "_id": {"$lt": session_id}},
            ]
        with self._do("listing sessions"):
            raw = list(
                self._sessions.find(query, sort=[("updated_at", -1), ("_id", -1)], limit=limit + 1)
            )
        more = len(raw) > limit
        raw = raw[:limit]
        items = []
        for doc in raw:
            try:
                items.append(info_from_doc(doc))
            except CorruptRecordError:
                continue  # one bad record must not hide every other session
        cursor = None
        if more and raw:
            last = raw[-1]
            cursor = encode_cursor(float(last.get("updated_at", 0.0)), str(last["_id"]))
        return SessionPage(items=tuple(items), next_cursor=cursor)
