"""The pages: the inbox, one session's transcript, and the approvals view.

Rendered on the server, so a page arrives whole (no layout shift while a script fetches
rows); the page's small script only sends the writes (rename, name it, approve).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import HTMLResponse

from sessionary.domain.runs import RunStatus
from sessionary.errors import InvalidInputError
from sessionary_web.api import TRANSCRIPT_PAGE, approvals_page_data, transcript_page
from sessionary_web.config import config_of, html
from sessionary_web.query import Query

__all__ = ["approvals_page", "inbox_page", "session_page"]

STATUSES = [s.value for s in RunStatus]


def inbox_page(request: Request) -> HTMLResponse:
    """``GET /``: sessions by last activity, with search and filters."""
    config = config_of(request)
    query = Query.parse(request.query_params, default_limit=config.page_size)
    user = config.user_of(request)
    page = config.inbox.sessions(query, user)
    return html(
        request,
        "inbox.html",
        {
            "page": "inbox",
            "sessions": page.items,
            "next_cursor": page.next_cursor,
            "total": config.inbox.count(query, user),
            "query": query,
            "first_page": query.without_cursor(),
            "statuses": STATUSES,
            "scoped": user is not None,
        },
    )


def session_page(request: Request) -> HTMLResponse:
    """``GET /session?id=``: the transcript, newest runs last, a page at a time."""
    config = config_of(request)
    session_id = request.query_params.get("id", "")
    if not session_id:
        raise InvalidInputError("the query parameter 'id' is required")
    runs, earlier, info = transcript_page(
        config,
        session_id,
        config.user_of(request),
        limit=TRANSCRIPT_PAGE,
        before_run=request.query_params.get("before_run") or None,
    )
    return html(
        request,
        "session.html",
        {"page": "session", "info": info, "runs": runs, "earlier": earlier},
    )


def approvals_page(request: Request) -> HTMLResponse:
    """``GET /approvals``: every paused run, with its tool calls, to approve or reject."""
    config = config_of(request)
    found, next_cursor, total = approvals_page_data(config, request)
    return html(
        request,
        "approvals.html",
        {
            "page": "approvals",
            "found": found,
            "next_cursor": next_cursor,
            "total": total,
            "read_only": config.inbox.read_only_reason,
        },
    )
