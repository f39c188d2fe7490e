"""What the templates and the JSON API show of sessions and runs.

Every stored string reaches the page through Jinja2's autoescaping (and the page's
script sets ``textContent``, never HTML), so a hostile name or tool argument is shown
as text.
"""

from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

import jinja2

from sessionary.codec import encode_message, encode_run, encode_session_info
from sessionary.domain.runs import Run
from sessionary.domain.sessions import SessionInfo

__all__ = ["environment", "run_json", "session_json", "when"]


def when(epoch: float | None) -> str:
    """``2026-12-03 22:41 UTC``, or an empty string."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def iso(epoch: float | None) -> str:
    """ISO 8601 in UTC, for ``<time datetime=...>``."""
    if epoch is None:
        return ""
    return datetime.fromtimestamp(epoch, timezone.utc).isoformat(timespec="seconds")


def pretty(value: Any) -> str:
    """JSON, indented, for tool arguments and state."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def session_json(info: SessionInfo) -> dict[str, Any]:
    """A session's summary as the API returns it (the codec's, plus the inbox fields)."""
    data = encode_session_info(info)
    data.setdefault("last_run_at", getattr(info, "last_run_at", None))
    data.setdefault("paused_runs", getattr(info, "paused_runs", 0))
    return data


def run_json(run: Run) -> dict[str, Any]:
    """A run as the API returns it, with its requirements and what each still needs."""
    data = encode_run(run)
    data["active_requirements"] = [r.id for r in run.active_requirements]
    return data


def message_json(run: Run) -> list[dict[str, Any]]:
    """A run's messages, as the codec writes them."""
    return [encode_message(m) for m in run.messages]


def environment() -> jinja2.Environment:
    """The templates shipped in the package, autoescaped."""
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("sessionary_web", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = when
    env.filters["iso"] = iso
    env.filters["pretty"] = pretty
    return env
