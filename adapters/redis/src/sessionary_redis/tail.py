"""The tail of a Redis session: reading runs (tolerantly), the last messages, and
replacing the last runs.

A replace is optimistic: it reads the summary and the runs it removes (and, only when
the preview must come from an older run, runs before them), computes the new summary
in Python, then one script checks that the session is still at the version read and
writes everything, or writes nothing; a session that changed meanwhile is read again
(or, with ``expected_version``, is a :class:`~sessionary.errors.ConflictError`).
"""

from __future__ import annotations

import json
import time
from functools import partial
from typing import Any

from sessionary.codec import dump_run
from sessionary.domain.messages import Message
from sessionary.domain.runs import Run, RunStatus
from sessionary.domain.sessions import Session, SessionInfo
from sessionary.errors import (
    ConflictError,
    CorruptRecordError,
    OwnershipError,
    RunNotFoundError,
    SessionNotFoundError,
)
from sessionary.storage.base import preview_of
from sessionary.storage.tails import (
    check_session_version,
    decode_each,
    messages_tail,
    preview_after_replace,
    stale_version,
    summary_after_replace,
    too_few_runs,
)
from sessionary_redis.calls import Command, Op, Request, Script
from sessionary_redis.keys import KeyLayout
from sessionary_redis.listing import reindex
from sessionary_redis.records import check_tokens, decode_info, decode_run_text, text

__all__ = ["TailOperations"]

_BATCH = 32


def _load(session_id: str, value: Any) -> Any:
    try:
        return json.loads(value)
    except (ValueError, TypeError) as exc:
        raise CorruptRecordError(session_id, f"a run cannot be decoded: {exc}") from exc


class TailOperations:
    """The tail operations of :class:`~sessionary_redis.operations.RedisOperations`."""

    keys: KeyLayout
    ttl: float | None
    _ttl_ms: str
    _listing_checked: bool

    def _pair(self, session_id: str) -> list[str]:
        return [self.keys.session(session_id), self.keys.runs(session_id)]

    def _read_reply(self, session_id: str, reply: Any) -> tuple[SessionInfo, list[str]] | None:
        status = text(reply[0])
        if status == "missing":
            return None
        if status == "corrupt":
            raise CorruptRecordError(session_id, str(text(reply[1])))
        decoded = decode_info(session_id, reply[1])
        if decoded is None:
            raise CorruptRecordError(session_id, "the session hash vanished during a read")
        return decoded

    def _get_session_op(
        self,
        session_id: str,
        user_id: str | None,
        last_n_runs: int | None,
        skip_corrupt: bool = False,
        before_run: str | None = None,
    ) -> Op[Session | None]:
        count = -1 if last_n_runs is None else last_n_runs
        reply = yield Request.read(
            f"read session {session_id!r}",
            Script("_read", self._pair(session_id), [user_id or "", count, before_run or ""]),
            session_id,
        )
        if text(reply[0]) == "norun":
            assert before_run is not None
            raise RunNotFoundError(session_id, before_run)
        read = self._read_reply(session_id, reply)
        if read is None:
            return None
        info = read[0]
        first = int(reply[3]) + 1  # the position (from 1) of the first run read
        runs, skipped = decode_each(
            session_id,
            ((f"#{first + i}", value) for i, value in enumerate(reply[2])),
            partial(decode_run_text, session_id),
            skip_corrupt,
        )
        return Session.from_info(info, runs, skipped)

    def _messages_op(
        self, session_id: str, user_id: str | None, last_n: int | None, skip_corrupt: bool
    ) -> Op[list[Message]]:
        if last_n == 0:
            return []
        exact = False
        while True:
            reply = yield Request.read(
                f"read the messages of session {session_id!r}",
                Script(
                    "_read_messages",
                    self._pair(session_id),
                    [user_id or "", -1 if last_n is None else last_n, "1" if exact else "0"],
                ),
                session_id,
            )
            status = text(reply[0])
            if status == "missing":
                return []
            if status == "corrupt":
                raise CorruptRecordError(session_id, str(text(reply[1])))
            start, runs = int(reply[1]), reply[2]
            messages = messages_tail(
                session_id,
                ((f"#{start + i + 1}", runs[i]) for i in range(len(runs) - 1, -1, -1)),
                partial(_load, session_id),
                last_n,
                skip_corrupt,
            )
            if exact or start == 0 or last_n is None or len(messages) >= last_n:
                return messages
            # Fewer than asked for, though older runs remain: a recorded message count
            # was wrong (written by an older sessionary-redis, or a run damaged since),
            # or a corrupt run was skipped. Count them all this time.
            exact = True

    def _replace_op(
        self,
        session_id: str,
        user_id: str | None,
        count: int,
        runs: tuple[Run, ...],
        expected_version: int | None,
    ) -> Op[SessionInfo]:
        for run in runs:
            check_tokens(run)
        encoded = [dump_run(run) for run in runs]
        while True:
            reply = yield Request.read(
                f"read session {session_id!r}",
                Script("_read", self._pair(session_id), [user_id or "", count, ""]),
                session_id,
            )
            read = self._read_reply(session_id, reply)
            if read is None:
                raise SessionNotFoundError(session_id, user_id)
            info, index_keys = read
            if any(run.user_id != info.user_id for run in runs):
                raise OwnershipError(session_id, user_id)
            check_session_version(info, session_id, expected_version, done="replaced")
            if len(reply[2]) < count:
                raise too_few_runs(session_id, len(reply[2]), count)
            removed = [decode_run_text(session_id, value) for value in reply[2]]
            if not removed and not runs:
                return info
            cut = info.run_count - count
            last_status, older = yield from self._kept(session_id, cut, info, removed, runs)
            new = summary_after_replace(
                info,
                removed,
                runs,
                remaining=cut,
                last_status=last_status,
                preview=preview_after_replace(info, removed, runs, partial(iter, older)),
                now=time.time(),
            )
            status = "" if new.last_run_status is None else new.last_run_status.value
            preview = new.last_message_preview
            active = new.last_run_at
            args: list[Any] = [
                user_id or "",
                info.version,
                count,
                repr(new.updated_at),
                self._ttl_ms,
                new.run_count,
                new.input_tokens,
                new.output_tokens,
                status,
                "" if preview is None else "=" + preview,
                "" if active is None else repr(active),
                new.paused_runs,
                len(removed),
                *(run.run_id for run in removed),
            ]
            for run, data in zip(runs, encoded, strict=True):
                args += [run.run_id, data, len(run.messages)]
            done = yield Request.write_(
                f"replace the last runs of session {session_id!r}",
                Script("_replace", self._pair(session_id), args),
                session_id,
            )
            outcome = text(done[0])
            if outcome == "ok":
                stored = self._read_reply(session_id, done)
                assert stored is not None
                yield from reindex(self, index_keys, stored[0])
                return stored[0]
            if outcome == "missing":
                raise SessionNotFoundError(session_id, user_id)
            if outcome == "duplicate":
                raise ConflictError(
                    f"run {text(done[1])!r} already exists in session {session_id!r}"
                )
            if outcome == "corrupt":
                raise CorruptRecordError(session_id, str(text(done[1])))
            if expected_version is not None:  # changed since the read above: stale
                raise stale_version(
                    session_id, int(str(text(done[1]))), expected_version, done="replaced"
                )

    def _kept(
        self,
        session_id: str,
        cut: int,
        info: SessionInfo,
        removed: list[Run],
        added: tuple[Run, ...],
    ) -> Op[tuple[RunStatus | None, list[str | None]]]:
        """The status of the newest kept run and, if the preview must come from a kept
        run, the kept runs' previews newest first (read back only until one is found)."""
        if cut <= 0:
            return None, []
        need_preview = any(preview_of(r) for r in removed) and not any(preview_of(r) for r in added)
        status: RunStatus | None = None
        previews: list[str | None] = []
        stop = cut - 1
        while stop >= 0:
            batch = yield Request.read(
                f"read the runs of session {session_id!r}",
                Command.of("lrange", self.keys.runs(session_id), max(0, stop - _BATCH + 1), stop),
                session_id,
            )
            for value in reversed(batch):
                run = decode_run_text(session_id, value)
                if not previews:
                    status = run.status
                previews.append(preview_of(run))
                if not need_preview or previews[-1] is not None:
                    return status, previews
            stop -= _BATCH
        return status, previews
