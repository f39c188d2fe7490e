"""The storage schema of a Redis store: reporting it, and ``migrate`` to the latest.

Each session hash records the schema it was written with (``schema``, see
:data:`~sessionary_redis.scripts.STORE_SCHEMA`). Every script refuses a session of
another schema, newer or older, without writing (``SchemaVersionError``); so a store
written by an older sessionary-redis must be migrated before this one uses it, and an
older worker never writes into a migrated session.

Schema 2 (issue 19) added ``lra`` (``last_run_at``) and ``paused`` (``paused_runs``) to
the summary, and the index families by activity (``xa:``) and by creation (``xc:``).
:meth:`MigrationOperations._migrate_op` walks every session of the ``x:all`` index and,
for each one on schema 1, reads its runs once to compute both fields, writes them with
the new stamp in one script that checks the session did not change meanwhile (it
recomputes if it did), then adds the session to the new index families.
"""

from __future__ import annotations

import json
from typing import Any, Final

from sessionary.errors import SchemaVersionError, StorageError
from sessionary.storage.base import SchemaStatus
from sessionary_redis.calls import Command, Op, Pipeline, Request, Script
from sessionary_redis.keys import KeyLayout
from sessionary_redis.records import text
from sessionary_redis.scripts import STORE_SCHEMA

__all__ = ["MigrationOperations", "fill_values"]

#: Index entries read per step of the walk.
_BATCH: Final = 500
#: How often one session is computed again because a writer changed it meanwhile.
_ATTEMPTS: Final = 100


def fill_values(runs: list[Any]) -> tuple[float | None, int]:
    """``last_run_at`` (the newest run's ``created_at``; ``None`` without runs) and the
    number of paused runs, from a session's runs as stored (JSON text, oldest first).

    A run that cannot be decoded counts as not paused, and as the newest it leaves
    ``last_run_at`` unset (the session then lists by its creation time).
    """
    last: float | None = None
    paused = 0
    for position, raw in enumerate(runs):
        try:
            run = json.loads(raw)
        except (ValueError, TypeError):
            run = None
        if not isinstance(run, dict):
            if position == len(runs) - 1:
                last = None
            continue
        if run.get("status") == "paused":
            paused += 1
        created = run.get("created_at")
        if position == len(runs) - 1:
            number = isinstance(created, (int, float)) and not isinstance(created, bool)
            last = float(created) if number and created is not None else None
    return last, paused


class MigrationOperations:
    """``schema_status`` and ``migrate`` of the Redis stores (sync and async)."""

    keys: KeyLayout
    ttl: float | None
    _ttl_ms: str
    _listing_checked: bool

    def _schema_status_op(self) -> Op[SchemaStatus]:
        """The storage schema of the oldest and newest sessions against this code's.

        The 100 most recently and the 100 least recently written sessions are sampled
        (one pipelined read). A session of a newer schema shows as ``current > latest``
        (reading it raises ``SchemaVersionError``), else one of an older schema as
        ``current < latest`` (``migrate`` converts it).
        """
        ends = yield Request.read(
            "read the newest and oldest sessions",
            Pipeline(
                [
                    Command.of("zrevrange", self.keys.all_index, 0, 99),
                    Command.of("zrange", self.keys.all_index, 0, 99),
                ]
            ),
        )
        sampled = sorted({str(text(m)) for reply in ends for m in reply})
        found = [STORE_SCHEMA]
        if sampled:
            values = yield Request.read(
                "read session schemas",
                Pipeline(
                    [Command.of("hget", self.keys.session(sid), "schema") for sid in sampled],
                    raise_on_error=False,
                ),
            )
            for value in values:
                raw = None if isinstance(value, Exception) else text(value)
                if raw is not None and raw.isdigit():
                    found.append(int(raw))
        current = max(found) if max(found) > STORE_SCHEMA else min(found)
        return SchemaStatus(current=current, latest=STORE_SCHEMA)

    def _migrate_op(self) -> Op[list[str]]:
        """``Store.migrate``: convert every session of an older schema; one line per step.

        A store holding a session of a newer schema is refused before anything is
        written (the sample of :meth:`_schema_status_op`) or, found later in the walk,
        when it is met.
        """
        status = yield from self._schema_status_op()
        if status.current > status.latest:
            raise SchemaVersionError(
                f"the store holds storage schema {status.current}, newer than {status.latest} "
                "that this sessionary-redis writes; upgrade sessionary instead of migrating"
            )
        converted = 0
        cursor: Any = 0
        while True:
            cursor, entries = yield Request.read(
                "walk the sessions to migrate",
                Command.of("zscan", self.keys.all_index, cursor, count=_BATCH),
            )
            for member, _ in entries:
                converted += yield from self._migrate_session(str(text(member)))
            if not int(cursor):
                break
        self._listing_checked = False
        if not converted:
            return []
        return [
            f"storage schema {STORE_SCHEMA}: last_run_at and paused_runs of {converted} sessions"
        ]

    def _migrate_session(self, session_id: str) -> Op[int]:
        """Convert one session to this schema; 1 if it was converted, 0 if not needed."""
        key = self.keys.session(session_id)
        for _ in range(_ATTEMPTS):
            head, runs = yield Request.read(
                f"read session {session_id!r}",
                Pipeline(
                    [
                        Command.of("hmget", key, ["schema", "version"]),
                        Command.of("lrange", self.keys.runs(session_id), 0, -1),
                    ]
                ),
                session_id,
            )
            schema, version = (text(value) for value in head)
            if schema is None or not schema.isdigit() or int(schema) == STORE_SCHEMA:
                return 0  # gone, or damaged (reported where it is read), or converted
            if int(schema) > STORE_SCHEMA:
                raise SchemaVersionError(
                    f"session {session_id!r} was written with storage schema {schema}, "
                    f"newer than this sessionary-redis's {STORE_SCHEMA}; upgrade sessionary"
                )
            last, paused = fill_values(list(runs))
            reply = yield Request.write_(
                f"migrate session {session_id!r}",
                Script(
                    "_migrate_script",
                    [key],
                    [version or "", schema, "" if last is None else repr(last), paused],
                ),
                session_id,
            )
            outcome = text(reply[0])
            if outcome == "gone":
                return 0
            if outcome == "ok":
                created = float(str(text(reply[1])))
                index_keys = [k for k in (text(reply[2]) or "").split("\n") if k]
                yield from self._index_migrated(session_id, index_keys, last, created)
                return 1
        raise StorageError(
            f"session {session_id!r} changed {_ATTEMPTS} times while it was being migrated"
        )

    def _index_migrated(
        self, session_id: str, index_keys: list[str], last: float | None, created: float
    ) -> Op[None]:
        """Add a converted session to the index families by activity and by creation."""
        commands: list[Command] = []
        for index in index_keys:
            active = self.keys.family(index, "a")
            made = self.keys.family(index, "c")
            commands.append(
                Command.of("zadd", active, {session_id: created if last is None else last})
            )
            commands.append(Command.of("zadd", made, {session_id: created}))
            if self.ttl is not None:
                commands += [Command.of("pexpire", k, int(self._ttl_ms)) for k in (active, made)]
        if commands:
            yield Request.write_(
                f"index migrated session {session_id!r}", Pipeline(commands), session_id
            )
