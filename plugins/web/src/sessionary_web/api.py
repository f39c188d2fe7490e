"""The JSON API: list, read, rename, name, delete, and approve paused runs.

Errors are ``{"error": {"code", "exit_code", "message"}}`` with the exit code the
``sessionary`` command line uses for the same failure (see :mod:`sessionary_web.errors`).
Session and run IDs travel in the query string or the body, never in the path, so any
ID a store accepts works.
"""

from __future__ import annotations

import json
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse

from sessionary.domain.sessions import SessionInfo
from sessionary.errors import InvalidInputError
from sessionary_web.config import WebConfig, config_of
from sessionary_web.query import Query
from sessionary_web.views import message_json, run_json, session_json

__all__ = [
    "approvals",
    "approvals_page_data",
    "autoname",
    "continue_run",
    "csrf",
    "delete",
    "get_run",
    "get_session",
    "list_sessions",
    "rename",
    "transcript",
]

#: Runs per transcript page.
TRANSCRIPT_PAGE = 20


def _text(request: Request, key: str) -> str:
    value = request.query_params.get(key, "")
    if not value:
        raise InvalidInputError(f"the query parameter {key!r} is required")
    return value


def list_sessions(request: Request) -> JSONResponse:
    """``GET /api/sessions``: a page of sessions with the total that match."""
    config = config_of(request)
    query = Query.parse(request.query_params, default_limit=config.page_size)
    user = config.user_of(request)
    page = config.inbox.sessions(query, user)
    total = config.inbox.count(query, user)
    return JSONResponse(
        {
            "items": [session_json(info) for info in page.items],
            "next_cursor": page.next_cursor,
            "total": total,
        }
    )


def get_session(request: Request) -> JSONResponse:
    """``GET /api/session?id=``: one session's summary, state and metadata (no runs)."""
    config = config_of(request)
    info = config.inbox.info(_text(request, "id"), config.user_of(request))
    return JSONResponse(session_json(info))


def transcript(request: Request) -> JSONResponse:
    """``GET /api/transcript?id=[&before_run=][&limit=]``: a page of runs, oldest first;
    ``earlier`` is the ``before_run`` of the page before it (``null`` on the first)."""
    config = config_of(request)
    raw = request.query_params.get("limit") or str(TRANSCRIPT_PAGE)
    if not raw.isdigit() or not 1 <= int(raw) <= 200:
        raise InvalidInputError(f"limit must be between 1 and 200, got {raw!r}")
    runs, earlier, info = transcript_page(
        config,
        _text(request, "id"),
        config.user_of(request),
        limit=int(raw),
        before_run=request.query_params.get("before_run") or None,
    )
    return JSONResponse(
        {
            "session": session_json(info),
            "runs": [{**run_json(run), "messages": message_json(run)} for run in runs],
            "earlier": earlier,
        }
    )


def transcript_page(
    config: WebConfig, session_id: str, user: str | None, *, limit: int, before_run: str | None
) -> tuple[list[Any], str | None, SessionInfo]:
    """The runs of one page, the ``before_run`` of the page before it, and the summary."""
    session = config.inbox.transcript(
        session_id, user, last_n_runs=limit + 1, before_run=before_run
    )
    runs = list(session.runs)
    earlier = None
    if len(runs) > limit:
        runs = runs[1:]
        earlier = runs[0].run_id
    return runs, earlier, session.info


def approvals_page_data(
    config: WebConfig, request: Request
) -> tuple[list[tuple[SessionInfo, list[Any]]], str | None, int]:
    """The sessions with paused runs (a page of them), each with its paused runs."""
    params = dict(request.query_params)
    params["paused"] = "1"
    query = Query.parse(params, default_limit=min(config.page_size, 20))
    user = config.user_of(request)
    page = config.inbox.sessions(query, user)
    total = config.inbox.count(query, user)
    found = [(info, config.inbox.paused_runs(info)) for info in page.items]
    return found, page.next_cursor, total


def approvals(request: Request) -> JSONResponse:
    """``GET /api/approvals``: the approval queue: sessions with paused runs, and the runs."""
    config = config_of(request)
    found, cursor, total = approvals_page_data(config, request)
    items = [
        {"session": session_json(info), "runs": [run_json(run) for run in runs]}
        for info, runs in found
    ]
    return JSONResponse(
        {
            "items": items,
            "next_cursor": cursor,
            "total": total,
            "read_only": config.inbox.read_only_reason,
        }
    )


def get_run(request: Request) -> JSONResponse:
    """``GET /api/run?session_id=&run_id=``: one run, with what a paused one waits for."""
    config = config_of(request)
    run = config.inbox.run(
        _text(request, "session_id"), _text(request, "run_id"), config.user_of(request)
    )
    return JSONResponse({**run_json(run), "messages": message_json(run)})


def csrf(request: Request) -> JSONResponse:
    """``GET /api/csrf``: the token a script sends as ``X-CSRF-Token`` with its POSTs."""
    return JSONResponse({"csrf_token": config_of(request).csrf_token})


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        data = json.loads(raw or b"{}")
    except ValueError as exc:
        raise InvalidInputError(f"the request body is not JSON: {exc}") from None
    if not isinstance(data, dict):
        raise InvalidInputError("the request body must be a JSON object")
    return data


def _id(body: dict[str, Any], key: str) -> str:
    value = body.get(key)
    if not isinstance(value, str) or not value:
        raise InvalidInputError(f"{key!r} must be a non-empty string")
    return value


async def rename(request: Request) -> JSONResponse:
    """``POST /api/rename {"session_id", "name"}``: through the guardrails, as manual."""
    config, body = config_of(request), await _body(request)
    info = await run_in_threadpool(
        config.inbox.rename, _id(body, "session_id"), body.get("name"), config.user_of(request)
    )
    return JSONResponse(session_json(info))


async def autoname(request: Request) -> JSONResponse:
    """``POST /api/autoname {"session_id"}``: the naming model names it (or a fallback)."""
    config, body = config_of(request), await _body(request)
    info = await run_in_threadpool(
        config.inbox.autoname, _id(body, "session_id"), config.user_of(request)
    )
    return JSONResponse(session_json(info))


async def delete(request: Request) -> JSONResponse:
    """``POST /api/delete {"session_id"}``: the session and its runs."""
    config, body = config_of(request), await _body(request)
    session_id = _id(body, "session_id")
    await run_in_threadpool(config.inbox.delete, session_id, config.user_of(request))
    return JSONResponse({"deleted": session_id})


async def continue_run(request: Request) -> JSONResponse:
    """``POST /api/continue {"session_id", "run_id", "answers": [...]}``: answer a paused
    run and continue it; a run someone continued first is a ``conflict`` (409)."""
    config, body = config_of(request), await _body(request)
    run = await run_in_threadpool(
        config.inbox.continue_run,
        _id(body, "session_id"),
        _id(body, "run_id"),
        body.get("answers"),
        config.user_of(request),
    )
    return JSONResponse({**run_json(run), "messages": message_json(run)})
