"""The listing half of the storage contract: the filters, the order and the cursor of
:meth:`Store.list_sessions <sessionary.Store.list_sessions>` and
:meth:`Store.count_sessions <sessionary.Store.count_sessions>`, checked once in core.

A backend gets a :class:`ListFilters` (every argument checked) and, for the next page,
the position after which to resume: ``(order value, session ID)`` of the last session
of the previous page. :meth:`ListFilters.matches` and :meth:`ListFilters.sort_key` say
what the filters and the order mean, for a backend that filters in Python and as the
reference a query must agree with.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Final

import attrs

from sessionary.domain.runs import RunStatus
from sessionary.domain.sessions import SessionInfo, SessionType
from sessionary.errors import InvalidInputError
from sessionary.ids import validate_optional_id

__all__ = [
    "MAX_LIST_LIMIT",
    "ORDERS",
    "ListFilters",
    "count_arguments",
    "decode_cursor",
    "encode_cursor",
    "list_arguments",
]

#: Longest page :meth:`Store.list_sessions` returns.
MAX_LIST_LIMIT: Final = 1000
#: What a listing can be ordered by, newest first. ``"last_run_at"`` (the default) is
#: the last activity, the creation time for a session without runs.
ORDERS: Final = ("last_run_at", "updated_at", "created_at")


def encode_cursor(value: float, session_id: str, order_by: str = "updated_at") -> str:
    """An opaque listing cursor that resumes after ``(value, session_id)`` in ``order_by``.

    >>> decode_cursor(encode_cursor(2.5, "s1", "created_at"), "created_at")
    (2.5, 's1')
    """
    raw = json.dumps([order_by, value, session_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, order_by: str = "updated_at") -> tuple[float, str]:
    """The position :func:`encode_cursor` encoded. A malformed cursor, or one issued for
    another order than ``order_by``, is an :class:`~sessionary.errors.InvalidInputError`.
    A cursor of an earlier release (no order in it) was issued in ``"updated_at"`` order.
    """
    if not isinstance(cursor, str):
        raise InvalidInputError("cursor must be a str")
    refused = InvalidInputError(f"cursor {cursor[:40]!r} is not a cursor this store issued")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        decoded = json.loads(raw)
    except (binascii.Error, ValueError, TypeError) as exc:
        raise refused from exc
    if isinstance(decoded, list) and len(decoded) == 2:
        decoded = ["updated_at", *decoded]
    if not isinstance(decoded, list) or len(decoded) != 3:
        raise refused
    order, value, session_id = decoded
    if (
        order not in ORDERS
        or not isinstance(value, (int, float))
        or isinstance(value, bool)
        or not isinstance(session_id, str)
    ):
        raise refused
    if order != order_by:
        raise InvalidInputError(
            f"cursor {cursor[:40]!r} was issued for a listing ordered by {order!r}, "
            f"not by {order_by!r}: start again without a cursor"
        )
    return float(value), session_id


@attrs.frozen
class ListFilters:
    """The filters and the order of :meth:`Store.list_sessions`, checked.

    Every filter that is not ``None`` must hold (AND). ``status`` is the last run's
    status; ``has_paused`` whether any stored run is paused (``paused_runs``);
    ``active_after``/``active_before`` bound ``last_run_at`` (inclusive/exclusive: a
    session without runs never matches them); ``created_after``/``created_before``
    bound ``created_at`` the same way.
    """

    user_id: str | None
    agent_id: str | None
    team_id: str | None
    session_type: SessionType | None
    name_contains: str | None
    status: RunStatus | None = None
    has_paused: bool | None = None
    active_after: float | None = None
    active_before: float | None = None
    created_after: float | None = None
    created_before: float | None = None
    order_by: str = "last_run_at"

    def matches(self, info: SessionInfo) -> bool:
        """Whether a session passes every filter (for backends that filter in Python)."""
        checks = (
            self.user_id is None or info.user_id == self.user_id,
            self.agent_id is None or info.agent_id == self.agent_id,
            self.team_id is None or info.team_id == self.team_id,
            self.session_type is None or info.session_type is self.session_type,
            self.status is None or info.last_run_status is self.status,
            self.has_paused is None or (info.paused_runs > 0) is self.has_paused,
            _within(info.last_run_at, self.active_after, self.active_before),
            _within(info.created_at, self.created_after, self.created_before),
        )
        if not all(checks):
            return False
        if self.name_contains is not None:
            return info.name is not None and self.name_contains.casefold() in info.name.casefold()
        return True

    def sort_key(self, info: SessionInfo) -> tuple[float, str]:
        """The session's place in this listing's order: ``(order value, session ID)``,
        listed greatest first. ``"last_run_at"`` falls back to ``created_at``."""
        if self.order_by == "created_at":
            return (info.created_at, info.session_id)
        if self.order_by == "updated_at":
            return (info.updated_at, info.session_id)
        active = info.last_run_at
        return (info.created_at if active is None else active, info.session_id)

    def cursor_after(self, info: SessionInfo) -> str:
        """The cursor of the page that follows ``info`` in this order."""
        return encode_cursor(*self.sort_key(info), self.order_by)

    @property
    def has_time_filters(self) -> bool:
        """Whether any of the four time bounds is set."""
        bounds = (self.active_after, self.active_before, self.created_after, self.created_before)
        return any(bound is not None for bound in bounds)


def _within(value: float | None, after: float | None, before: float | None) -> bool:
    if after is None and before is None:
        return True
    if value is None:
        return False
    return (after is None or value >= after) and (before is None or value < before)


def _time(value: object, what: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidInputError(
            f"{what} must be a finite time in seconds since the epoch (int or float), got {value!r}"
        )
    return float(value)


def _status(value: object) -> RunStatus | None:
    if value is None or isinstance(value, RunStatus):
        return value
    try:
        return RunStatus(value)
    except ValueError:
        known = ", ".join(repr(s.value) for s in RunStatus)
        raise InvalidInputError(f"status must be one of {known}, got {value!r}") from None


def count_arguments(
    *,
    user_id: object = None,
    agent_id: object = None,
    team_id: object = None,
    session_type: object = None,
    name_contains: object = None,
    status: object = None,
    has_paused: object = None,
    active_after: object = None,
    active_before: object = None,
    created_after: object = None,
    created_before: object = None,
    order_by: object = "last_run_at",
) -> ListFilters:
    """Check the filters of :meth:`Store.count_sessions` (and of a listing); the filters."""
    user = validate_optional_id(user_id, "user_id")
    agent = validate_optional_id(agent_id, "agent_id")
    team = validate_optional_id(team_id, "team_id")
    try:
        kind = None if session_type is None else SessionType(session_type)
    except ValueError:
        raise InvalidInputError(
            f"session_type must be 'agent' or 'team', got {session_type!r}"
        ) from None
    if name_contains is not None and not isinstance(name_contains, str):
        raise InvalidInputError("name_contains must be a str")
    if has_paused is not None and not isinstance(has_paused, bool):
        raise InvalidInputError(f"has_paused must be True, False or None, got {has_paused!r}")
    if order_by not in ORDERS:
        raise InvalidInputError(f"order_by must be one of {', '.join(ORDERS)}, got {order_by!r}")
    return ListFilters(
        user,
        agent,
        team,
        kind,
        name_contains,
        status=_status(status),
        has_paused=has_paused,
        active_after=_time(active_after, "active_after"),
        active_before=_time(active_before, "active_before"),
        created_after=_time(created_after, "created_after"),
        created_before=_time(created_before, "created_before"),
        order_by=str(order_by),
    )


def list_arguments(
    *, limit: object, cursor: object, **filters: object
) -> tuple[ListFilters, int, tuple[float, str] | None]:
    """Check :meth:`Store.list_sessions`'s arguments: the filters, the limit, the position.

    ``filters`` are :func:`count_arguments`'s, ``order_by`` included.
    """
    checked = count_arguments(**filters)
    if not isinstance(limit, int) or isinstance(limit, bool) or not 1 <= limit <= MAX_LIST_LIMIT:
        raise InvalidInputError(f"limit must be an int from 1 to {MAX_LIST_LIMIT}")
    if cursor is not None and not isinstance(cursor, str):
        raise InvalidInputError("cursor must be a str")
    after = None if cursor is None else decode_cursor(cursor, checked.order_by)
    return checked, limit, after
