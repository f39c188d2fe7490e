"""The inbox's filters, read from a request's query string and checked before any read."""

from __future__ import annotations

import math
import time
from collections.abc import Mapping
from datetime import datetime, timezone
from typing import Any

import attrs

from sessionary.domain.runs import RunStatus
from sessionary.errors import InvalidInputError

__all__ = ["ORDERS", "Query", "parse_time"]

ORDERS = ("last_run_at", "updated_at", "created_at")
MAX_LIMIT = 200
#: The page's "active within" choices, in hours.
ACTIVE_CHOICES = {"1": 1, "24": 24, "168": 168, "720": 720}


def parse_time(value: str, what: str) -> float:
    """Epoch seconds or ISO 8601 (a time without a zone is UTC)."""
    try:
        number = float(value)
    except ValueError:
        try:
            parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidInputError(
                f"{what} must be epoch seconds or an ISO 8601 time, got {value!r}"
            ) from None
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=timezone.utc)
        return parsed.timestamp()
    if not math.isfinite(number):
        raise InvalidInputError(f"{what} must be a finite time, got {value!r}")
    return number


def _flag(value: str, what: str) -> bool | None:
    lowered = value.strip().lower()
    if lowered in ("", "any"):
        return None
    if lowered in ("1", "true", "yes", "on"):
        return True
    if lowered in ("0", "false", "no", "off"):
        return False
    raise InvalidInputError(f"{what} must be true or false, got {value!r}")


@attrs.frozen(kw_only=True)
class Query:
    """Filters, order and paging of a session listing."""

    user_id: str | None = None
    agent_id: str | None = None
    team_id: str | None = None
    session_type: str | None = None
    name_contains: str | None = None
    status: str | None = None
    has_paused: bool | None = None
    active_after: float | None = None
    active_before: float | None = None
    created_after: float | None = None
    created_before: float | None = None
    order_by: str = "last_run_at"
    limit: int = 50
    cursor: str | None = None
    #: The page's "active within N hours" choice, as given (kept to redraw the form).
    active_hours: str | None = None

    @classmethod
    def parse(cls, params: Mapping[str, str], *, default_limit: int = 50) -> Query:
        """From query parameters: ``user``, ``agent``, ``team``, ``type``, ``q``,
        ``status``, ``paused``, ``active_after``/``active_before``,
        ``created_after``/``created_before`` (epoch or ISO 8601), ``active`` (hours),
        ``order_by``, ``limit``, ``cursor``. Empty values mean "any"."""

        def text(key: str) -> str | None:
            value = params.get(key, "").strip()
            return value or None

        status = text("status")
        if status is not None and status not in {s.value for s in RunStatus}:
            raise InvalidInputError(
                f"status must be one of {', '.join(s.value for s in RunStatus)}, got {status!r}"
            )
        order_by = text("order_by") or "last_run_at"
        if order_by not in ORDERS:
            raise InvalidInputError(
                f"order_by must be one of {', '.join(ORDERS)}, got {order_by!r}"
            )
        raw_limit = text("limit")
        try:
            limit = default_limit if raw_limit is None else int(raw_limit)
        except ValueError:
            raise InvalidInputError(f"limit must be a whole number, got {raw_limit!r}") from None
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInputError(f"limit must be between 1 and {MAX_LIMIT}, got {limit}")
        times: dict[str, Any] = {}
        for key in ("active_after", "active_before", "created_after", "created_before"):
            value = text(key)
            times[key] = None if value is None else parse_time(value, key)
        hours = text("active")
        if hours is not None:
            if hours not in ACTIVE_CHOICES:
                raise InvalidInputError(
                    f"active must be one of {', '.join(ACTIVE_CHOICES)} (hours), got {hours!r}"
                )
            since = time.time() - ACTIVE_CHOICES[hours] * 3600
            times["active_after"] = max(since, times["active_after"] or since)
        session_type = text("type")
        if session_type not in (None, "agent", "team"):
            raise InvalidInputError(f"type must be agent or team, got {session_type!r}")
        return cls(
            user_id=text("user"),
            agent_id=text("agent"),
            team_id=text("team"),
            session_type=session_type,
            name_contains=text("q"),
            status=status,
            has_paused=_flag(params.get("paused", ""), "paused"),
            order_by=order_by,
            limit=limit,
            cursor=text("cursor"),
            active_hours=hours,
            **times,
        )

    def filters(self) -> dict[str, Any]:
        """The keyword arguments of ``list_sessions``/``count_sessions`` that are set."""
        names = [
            "user_id",
            "agent_id",
            "team_id",
            "session_type",
            "name_contains",
            "status",
            "has_paused",
            "active_after",
            "active_before",
            "created_after",
            "created_before",
        ]
        return {name: getattr(self, name) for name in names if getattr(self, name) is not None}

    def without_cursor(self) -> dict[str, str]:
        """The query string of this listing's first page (for links and forms)."""
        out = {
            "user": self.user_id,
            "agent": self.agent_id,
            "team": self.team_id,
            "type": self.session_type,
            "q": self.name_contains,
            "status": self.status,
            "paused": None if self.has_paused is None else ("1" if self.has_paused else "0"),
            "active": self.active_hours,
        }
        return {k: v for k, v in out.items() if v is not None}
