"""The tail of a MongoDB session: conditional appends, replacing the last runs, reading
runs tolerantly and the last messages. Transaction-free, like every write here.

A conditional write claims the session's version first, in one conditional update of
the session document (the version in its filter): of two writers that read the same
version, one claim matches and the other does not, so a stale write writes nothing. A
replace then inserts the new runs, deletes the old ones and folds the difference into
the summary, each step atomic on its own document(s); between the steps a reader can
see the new runs beside the old ones (``docs/storage/mongodb.md`` says so). A trim claims the
version, then deletes the oldest runs one by one and subtracts what it deleted. A message
read reads runs newest first in batches and starts again if the session's version
moved meanwhile.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from typing import TYPE_CHECKING, Any, Final

from pymongo import ReturnDocument
from pymongo.errors import DuplicateKeyError, PyMongoError

from sessionary.codec import dump_run
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run
from sessionary.domain.sessions import Session, SessionInfo, SessionType
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.storage.backend import stale_delete
from sessionary.storage.base import new_session_info, preview_of
from sessionary.storage.tails import (
    check_session_version,
    decode_each,
    messages_tail,
    preview_after_replace,
    stale_version,
    summary_after_replace,
    too_few_runs,
)
from sessionary_mongodb.calls import RUNS, SESSIONS, SETUP, Op
from sessionary_mongodb.connection import MongoSettings, as_int, expired
from sessionary_mongodb.documents import (
    CURRENT,
    check_run_size,
    info_from_doc,
    refuse_newer,
    run_doc,
    run_from_doc,
    session_doc,
)

__all__ = ["MongoTail", "claim_seq", "counted_runs"]

_BATCH: Final = 64
_ATTEMPTS: Final = 5


def claim_seq(
    db: MongoSettings,
    run: Run,
    session_type: SessionType,
    now: float,
    expected_version: int,
    token: Any,
) -> Op[tuple[str, int]]:
    """Reserve the next sequence number and bump the version, if the session is at
    ``expected_version`` (0: create it, it must not exist); else ConflictError.

    ``token``, the run document's ``_id``, goes into ``inflight`` until it is counted."""
    sid = run.session_id
    # As _reserve_seq: only its own user's session, at a schema this code writes.
    query = {
        **db._session_filter(sid, None),
        "user_id": run.user_id,
        **CURRENT,
        "version": expected_version,
    }
    update: dict[str, Any] = {
        "$inc": {"seq": 1, "pending": 1, "version": 1},
        "$set": {"reserved_at": now},
        "$push": {"inflight": token},
    }
    if expected_version == 0:
        fresh = session_doc(new_session_info(run, session_type, now), uuid.uuid4().hex, 0)
        skip = ("_id", "seq", "version", *query)
        update["$setOnInsert"] = {k: v for k, v in fresh.items() if k not in skip}
        update["$setOnInsert"].update(db._expiry(now))
    try:
        doc = yield SESSIONS.find_one_and_update(
            query,
            update,
            upsert=expected_version == 0,
            return_document=ReturnDocument.AFTER,
            projection={"key": 1, "seq": 1},
        )
    except DuplicateKeyError:
        doc = None
    if doc is None:
        existing = yield SESSIONS.find_one({"_id": sid})
        if existing is not None and expired(existing):
            existing = None
        refuse_newer(existing)
        if existing is not None and existing.get("user_id") != run.user_id:
            raise OwnershipError(sid, run.user_id)
        stored = None if existing is None else existing.get("version")
        raise stale_version(sid, stored, expected_version, done="appended")
    seq = doc.get("seq")
    if not isinstance(seq, int):
        raise CorruptRecordError(sid, f"session sequence is {seq!r}, not an int")
    return db._key_of(doc), seq


def counted_runs(key: str, doc: dict[str, Any]) -> dict[str, Any]:
    """The filter of the runs the session document ``doc`` counts in its summary.

    An append inserts its run before it counts it, so a reader that read ``doc`` first
    leaves out the runs reserved after it (``seq`` above the document's) and the ones
    still in flight when it was read (their ``_id`` in ``inflight``): the runs it gets
    back are the ones ``run_count`` counts, one snapshot without a transaction.
    """
    query: dict[str, Any] = {"session_key": key}
    seq = doc.get("seq")
    if isinstance(seq, int):
        query["seq"] = {"$lte": seq}
    inflight = doc.get("inflight")
    if isinstance(inflight, list) and inflight:
        query["_id"] = {"$nin": inflight}
    return query


def _load(session_id: str, doc: dict[str, Any]) -> Any:
    try:
        return json.loads(doc.get("data"))  # type: ignore[arg-type]
    except (ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, f"run {doc.get('run_id')!r}: {exc}") from exc


class MongoTail(MongoSettings):
    """The tail operations of both MongoDB stores."""

    if TYPE_CHECKING:

        def _find_session(
            self, session_id: str, user_id: str | None
        ) -> Op[dict[str, Any] | None]: ...

    def _get_session_op(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Op[Session | None]:
        yield SETUP
        with self._do(f"reading session {session_id!r}"):
            doc = yield from self._find_session(session_id, user_id)
            if doc is None:
                return None
            info = info_from_doc(doc)
            # The runs this document counts (one snapshot), and with ``before_run``
            # (history paging) only those before that run.
            query = counted_runs(self._key_of(doc), doc)
            if before_run is not None:
                mark = yield RUNS.find_one(
                    {"session_key": self._key_of(doc), "run_id": before_run}, {"seq": 1}
                )
                if mark is None:
                    raise RunNotFoundError(session_id, before_run)
                query["seq"] = {**query.get("seq", {}), "$lt": mark.get("seq")}
            if last_n_runs == 0:
                return Session.from_info(info, ())
            if last_n_runs is None:
                docs = yield RUNS.find(query, sort=[("seq", 1)])
            else:
                docs = yield RUNS.find(query, sort=[("seq", -1)], limit=last_n_runs)
                docs.reverse()
        runs, skipped = decode_each(
            session_id,
            ((str(d.get("run_id")), d) for d in docs),
            lambda d: run_from_doc(session_id, d),
            skip_corrupt,
        )
        return Session.from_info(info, runs, skipped)

    def _messages_op(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> Op[list[Message]]:
        if last_n == 0:
            return []
        yield SETUP
        with self._do(f"reading the messages of session {session_id!r}"):
            for _ in range(_ATTEMPTS):
                doc = yield from self._find_session(session_id, user_id)
                if doc is None:
                    return []
                query = counted_runs(self._key_of(doc), doc)
                docs: list[dict[str, Any]] = []
                messages: list[Message] = []
                limit = last_n or 0  # 0: no limit, every run
                while True:
                    batch = yield RUNS.find(query, sort=[("seq", -1)], limit=limit)
                    docs += batch
                    messages = messages_tail(
                        session_id,
                        ((str(d.get("run_id")), d) for d in docs),
                        lambda d: _load(session_id, d),
                        last_n,
                        skip_corrupt,
                    )
                    if not limit or len(batch) < limit or len(messages) >= (last_n or 0):
                        break
                    query["seq"] = {"$lt": batch[-1].get("seq")}
                    limit = _BATCH
                if last_n is None or len(docs) <= last_n:
                    return messages  # one read: one consistent answer
                again = yield SESSIONS.find_one({"_id": session_id}, {"version": 1})
                if again is not None and again.get("version") == doc.get("version"):
                    return messages
        return messages

    def _replace_op(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> Op[SessionInfo]:
        texts = [dump_run(run) for run in runs]
        for run, text in zip(runs, texts, strict=True):
            check_run_size(run, text, self.max_document_bytes)
        yield SETUP
        with self._do(f"replacing the last runs of session {session_id!r}"):
            while True:
                doc = yield from self._find_session(session_id, user_id)
                if doc is None:
                    raise SessionNotFoundError(session_id, user_id)
                info = info_from_doc(doc)
                if any(run.user_id != info.user_id for run in runs):
                    raise OwnershipError(session_id, user_id)
                check_session_version(info, session_id, expected_version, done="replaced")
                done = yield from self._replace_at(doc, info, count, runs, texts)
                if done is not None:
                    return done
                if expected_version is not None:  # the claim lost to another writer
                    now = yield SESSIONS.find_one({"_id": session_id}, {"version": 1})
                    stored = None if now is None else now.get("version")
                    raise stale_version(session_id, stored, expected_version, done="replaced")

    def _replace_at(
        self,
        doc: dict[str, Any],
        info: SessionInfo,
        count: int,
        runs: tuple[Run, ...],
        texts: list[str],
    ) -> Op[SessionInfo | None]:
        """Replace at the version ``doc`` was read at; ``None`` if another write came first."""
        sid, key = info.session_id, self._key_of(doc)
        last_seq = doc.get("last_seq", 0)
        counted = {"session_key": key, "seq": {"$lte": last_seq}}
        doomed: list[dict[str, Any]] = []
        if count:
            doomed = yield RUNS.find(counted, sort=[("seq", -1)], limit=count)
        if len(doomed) < count:
            raise too_few_runs(sid, len(doomed), count)
        if not doomed and not runs:
            return info
        cut = doomed[-1]["seq"] if doomed else last_seq + 1
        ids = [run.run_id for run in runs]
        if ids:
            twins = yield RUNS.find(
                {"session_key": key, "run_id": {"$in": ids}, "seq": {"$lt": cut}}
            )
            if twins:
                raise ConflictError(
                    f"run {twins[0].get('run_id')!r} already exists in session {sid!r}"
                )
        removed = [run_from_doc(sid, d) for d in doomed]  # no status column: decode them
        kept = yield RUNS.find(
            {"session_key": key, "seq": {"$lt": cut}}, sort=[("seq", -1)], limit=1
        )
        older: list[str | None] = []
        if kept and any(preview_of(r) for r in removed) and not any(preview_of(r) for r in runs):
            older = yield from self._older_previews(sid, key, cut)
        now = time.time()
        new = summary_after_replace(
            info,
            removed,
            runs,
            remaining=info.run_count - count,
            last_status=run_from_doc(sid, kept[0]).status if kept else None,
            preview=preview_after_replace(info, removed, runs, lambda: iter(older)),
            now=now,
        )
        claim = yield SESSIONS.find_one_and_update(
            {"_id": sid, "key": key, "version": info.version, **CURRENT},
            {"$inc": {"version": 1, "seq": len(runs)}},
            return_document=ReturnDocument.AFTER,
            projection={"seq": 1},
        )
        if claim is None:
            return None
        first = claim["seq"] - len(runs) + 1
        if doomed:  # first: a new run may take a removed run's ID
            yield RUNS.delete_many({"_id": {"$in": [d["_id"] for d in doomed]}})
        if runs:
            new_docs = [
                run_doc(run, text, key, first + i)
                for i, (run, text) in enumerate(zip(runs, texts, strict=True))
            ]
            try:
                yield RUNS.insert_many(new_docs)
            except PyMongoError:
                with contextlib.suppress(PyMongoError):  # put the old tail back
                    yield RUNS.delete_many({"session_key": key, "seq": {"$gte": first}})
                    if doomed:
                        yield RUNS.insert_many(doomed)
                raise
        latest: dict[str, Any] = {
            "last_seq": first + len(runs) - 1 if runs else (kept[0]["seq"] if kept else 0),
            "last_run_status": None if new.last_run_status is None else new.last_run_status.value,
            "last_message_preview": new.last_message_preview,
            **self._expiry(now),
        }
        increments = {
            "run_count": new.run_count - info.run_count,
            "paused_runs": new.paused_runs - info.paused_runs,
            "input_tokens": new.input_tokens - info.input_tokens,
            "output_tokens": new.output_tokens - info.output_tokens,
        }
        update: dict[str, Any] = {"$inc": increments, "$max": {"updated_at": now}}
        if new.last_run_at is not None:  # kept, or now for a session that had no run
            update["$max"].update(last_run_at=new.last_run_at, active_at=new.last_run_at)
        # The summary's "latest" fields are ours unless a run was appended since the claim.
        stored = yield SESSIONS.find_one_and_update(
            {"_id": sid, "key": key, "seq": claim["seq"]},
            {**update, "$set": latest},
            return_document=ReturnDocument.AFTER,
        )
        if stored is None:
            stored = yield SESSIONS.find_one_and_update(
                {"_id": sid, "key": key}, update, return_document=ReturnDocument.AFTER
            )
        if stored is None:
            raise ConflictError(f"session {sid!r} was deleted while its runs were replaced")
        return info_from_doc(stored)

    def _trim_op(
        self, session_id: str, keep_last: int, user_id: str | None, expected_version: int | None
    ) -> Op[int]:
        yield SETUP
        with self._do(f"trimming the runs of session {session_id!r}"):
            doc = yield from self._find_session(session_id, user_id)
            if doc is None:
                raise SessionNotFoundError(session_id, user_id)
            key = self._key_of(doc)
            runs: dict[str, Any] = {"session_key": key}
            if expected_version is not None:
                if doc.get("version") != expected_version:
                    raise stale_delete(
                        session_id, doc.get("version"), expected_version, done="trimmed"
                    )
                runs["seq"] = {"$lte": doc.get("last_seq", 0)}  # only the runs counted
            doomed = yield RUNS.find(runs, {"_id": 1}, sort=[("seq", -1)], skip=keep_last)
            if doomed:
                # Claim the version before deleting, in one step with the schema check (and
                # with the version read, if given): a write since the read wins instead.
                claim: dict[str, Any] = {"_id": session_id, "key": key, **CURRENT}
                if expected_version is not None:
                    claim["version"] = expected_version
                claimed = yield SESSIONS.update_one(claim, {"$inc": {"version": 1}})
                if not claimed.matched_count:
                    now = yield SESSIONS.find_one({"_id": session_id}, {"version": 1, "schema": 1})
                    refuse_newer(now)
                    if expected_version is None:
                        raise SessionNotFoundError(session_id, user_id)
                    stored = now.get("version") if now else None
                    raise stale_delete(session_id, stored, expected_version, done="trimmed")
            removed = input_tokens = output_tokens = paused_runs = 0
            for run in doomed:
                # One at a time, so a concurrent trim never makes us subtract a run twice.
                gone = yield RUNS.find_one_and_delete(
                    {"_id": run["_id"]},
                    projection={"input_tokens": 1, "output_tokens": 1, "paused": 1},
                )
                if gone is not None:
                    removed += 1
                    input_tokens += as_int(gone, "input_tokens")
                    output_tokens += as_int(gone, "output_tokens")
                    paused_runs += 1 if gone.get("paused") is True else 0
            if removed:
                yield SESSIONS.update_one(
                    {"_id": session_id, "key": key},
                    {
                        "$inc": {  # the version was bumped by the claim
                            "run_count": -removed,
                            "paused_runs": -paused_runs,
                            "input_tokens": -input_tokens,
                            "output_tokens": -output_tokens,
                        },
                        "$max": {"updated_at": time.time()},
                    },
                )
        return removed

    def _older_previews(self, session_id: str, key: str, before: Any) -> Op[list[str | None]]:
        """Previews of the runs before seq ``before``, newest first, until one is found."""
        found: list[str | None] = []
        query: dict[str, Any] = {"session_key": key, "seq": {"$lt": before}}
        while True:
            batch = yield RUNS.find(query, sort=[("seq", -1)], limit=_BATCH)
            for d in batch:
                try:
                    found.append(preview_of(run_from_doc(session_id, d)))
                except CorruptRecordError:
                    found.append(None)
                if found[-1] is not None:
                    return found
            if len(batch) < _BATCH:
                return found
            query["seq"] = {"$lt": batch[-1]["seq"]}
