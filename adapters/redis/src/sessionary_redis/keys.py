"""The key layout: every name a :class:`~sessionary_redis.RedisDb` writes, in one place.

IDs are data, never syntax. Each ID is percent-encoded before it becomes part of a key
(:func:`escape_id`), so an escaped ID contains only ``A-Z a-z 0-9 - . _ ~ %``: never a
``:`` separator, a ``{`` or ``}`` hash-tag brace, or a glob character. Distinct IDs give
distinct escapes, so no two different IDs (or ``(user, session)`` pairs) share a key.

A session's keys share the hash tag ``{<escaped session id>}``, so in Redis Cluster
they live in one slot and one script updates both atomically::

    <prefix>:s:{<sid>}      HASH   the session's metadata and summary, and run positions
    <prefix>:r:{<sid>}      LIST   the session's runs, encoded JSON, in append order
    <prefix>:d:{<sid>}      STRING for a minute after a delete: its token (safe retries)

The listing indexes are sorted sets of raw session IDs, one family per listing order,
each with the same four scopes::

    <prefix>:x:all          every session, scored by last update (updated_at)
    <prefix>:x:u:<uid>      the sessions of one user
    <prefix>:x:a:<aid>      the sessions of one agent
    <prefix>:x:t:<tid>      the sessions of one team
    <prefix>:xa:...         the same scopes, scored by last activity
                            (last_run_at, or created_at for a session without runs)
    <prefix>:xc:...         the same scopes, scored by creation (created_at)

A session's hash records its ``x:`` index keys (``idx``); the keys of the other
families follow from them (:meth:`KeyLayout.family`).
"""

from __future__ import annotations

import re
from urllib.parse import quote

from sessionary.domain.sessions import SessionType
from sessionary.errors import InvalidInputError

__all__ = ["FAMILIES", "KeyLayout", "escape_id", "glob_escape"]

#: The index family of each listing order: ``""`` (``x:``), ``"a"`` (``xa:``), ``"c"``.
FAMILIES = {"updated_at": "", "last_run_at": "a", "created_at": "c"}

MAX_PREFIX_LENGTH = 128
#: The characters ``quote(..., safe="")`` leaves alone (RFC 3986 "unreserved").
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*", re.ASCII).fullmatch


def escape_id(value: str) -> str:
    """Percent-encode an ID for use inside a key: injective, and free of ``:{}*?[]``.

    >>> escape_id("a:b"), escape_id("{x}"), escape_id("50%")
    ('a%3Ab', '%7Bx%7D', '50%25')
    """
    if type(value) is str and _UNRESERVED(value) is not None:
        return value  # what quote() returns for it, without its per-character work
    return quote(value, safe="")


def glob_escape(text: str) -> str:
    """Escape text for a SCAN ``MATCH`` pattern (used for a test's own prefix only)."""
    return "".join("\\" + ch if ch in "*?[]\\" else ch for ch in text)


class KeyLayout:
    """Builds every key of a store from its prefix.

    >>> keys = KeyLayout("app")
    >>> keys.session("user_123_session_456")
    'app:s:{user_123_session_456}'
    >>> keys.runs("a:b")
    'app:r:{a%3Ab}'
    >>> keys.user_index("a:b")
    'app:x:u:a%3Ab'
    """

    def __init__(self, prefix: str) -> None:
        if type(prefix) is not str or not prefix:
            raise InvalidInputError("prefix must be a non-empty str")
        if len(prefix) > MAX_PREFIX_LENGTH:
            raise InvalidInputError(f"prefix is longer than {MAX_PREFIX_LENGTH} characters")
        if not prefix.isprintable() or any(ch in prefix for ch in "{}\n "):
            raise InvalidInputError(
                f"prefix {prefix!r} must be printable, without spaces or '{{' '}}' "
                "(braces would override the per-session hash tag in Redis Cluster)"
            )
        self.prefix = prefix
        self.all_index = f"{prefix}:x:all"

    def session(self, session_id: str) -> str:
        """The HASH holding a session's metadata, summary and run positions."""
        return f"{self.prefix}:s:{{{escape_id(session_id)}}}"

    def runs(self, session_id: str) -> str:
        """The LIST holding a session's encoded runs in order."""
        return f"{self.prefix}:r:{{{escape_id(session_id)}}}"

    def deleted(self, session_id: str) -> str:
        """A short-lived marker naming the last delete of a session (for safe retries)."""
        return f"{self.prefix}:d:{{{escape_id(session_id)}}}"

    def user_index(self, user_id: str) -> str:
        """The sorted set of one user's sessions."""
        return f"{self.prefix}:x:u:{escape_id(user_id)}"

    def agent_index(self, agent_id: str) -> str:
        """The sorted set of one agent's sessions."""
        return f"{self.prefix}:x:a:{escape_id(agent_id)}"

    def team_index(self, team_id: str) -> str:
        """The sorted set of one team's sessions."""
        return f"{self.prefix}:x:t:{escape_id(team_id)}"

    def indexes_of(
        self,
        session_type: SessionType,
        user_id: str | None,
        agent_id: str | None,
        team_id: str | None,
    ) -> list[str]:
        """Every index a session with these owners belongs to."""
        found = [self.all_index]
        if user_id is not None:
            found.append(self.user_index(user_id))
        if session_type is SessionType.TEAM:
            if team_id is not None:
                found.append(self.team_index(team_id))
        elif agent_id is not None:
            found.append(self.agent_index(agent_id))
        return found

    def family(self, index_key: str, family: str) -> str:
        """The key of the same scope as ``index_key`` (an ``x:`` key) in another family.

        >>> KeyLayout("app").family("app:x:u:bob", "a")
        'app:xa:u:bob'
        """
        head = f"{self.prefix}:x:"
        if not index_key.startswith(head):
            raise ValueError(f"{index_key!r} is not an index key of prefix {self.prefix!r}")
        return f"{self.prefix}:x{family}:{index_key[len(head) :]}"

    def pattern(self) -> str:
        """A SCAN pattern for every key under this prefix (cleanup of a test prefix only)."""
        return glob_escape(self.prefix) + ":*"
