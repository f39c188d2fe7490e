"""``inbox_app``: the inbox as an ASGI app, to serve or to mount in your own app."""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.templating import Jinja2Templates

from sessionary.agent.running import RunningOwner
from sessionary.errors import SessionaryError
from sessionary.models.base import Model
from sessionary.storage.base import Store
from sessionary_web import api, pages
from sessionary_web.config import UserScope, WebConfig, config_of
from sessionary_web.errors import error_code, public_message
from sessionary_web.guard import Guard
from sessionary_web.source import Inbox
from sessionary_web.views import environment

__all__ = ["inbox_app"]


def inbox_app(
    agent_or_db: RunningOwner | Store | str,
    *,
    user_id: UserScope = None,
    token: str | None = None,
    naming_model: Model | None = None,
    allowed_hosts: Sequence[str] | None = None,
    title: str = "Sessionary inbox",
    page_size: int = 50,
) -> Starlette:
    """The inbox (pages and JSON API) over an agent or team, a store, or a store URL.

    With an agent (or team), the inbox lists its sessions and approvals continue paused
    runs with its model and tools, in this process. With a store, every session is
    listed and approvals are read-only (the page says why).

    ``user_id`` scopes every request to one user: a string, or a function of the
    request (your app's login); ``None`` shows every user's sessions (an operator).
    ``token`` makes every request need it (see :mod:`sessionary_web.guard`); POSTs
    always need the page's CSRF token. ``allowed_hosts`` refuses requests for other
    ``Host`` names. ``naming_model`` names sessions ("name it") when there is no agent;
    without it the installed fallbacks do.

    >>> from sessionary_web import inbox_app
    >>> app = inbox_app("memory://")
    >>> type(app).__name__
    'Starlette'
    """
    if not isinstance(page_size, int) or not 1 <= page_size <= 200:
        raise ValueError(f"page_size must be an int from 1 to 200, got {page_size!r}")
    if token is not None and (not isinstance(token, str) or len(token) < 8):
        raise ValueError("token must be a string of at least 8 characters")
    config = WebConfig(
        inbox=Inbox.of(agent_or_db, naming_model),
        user=user_id,
        csrf_token=secrets.token_urlsafe(32),
        templates=Jinja2Templates(env=environment()),
        title=title,
        page_size=page_size,
    )
    routes = [
        Route("/", pages.inbox_page, name="inbox"),
        Route("/approvals", pages.approvals_page, name="approvals"),
        Route("/session", pages.session_page, name="session"),
        Route("/api/sessions", api.list_sessions),
        Route("/api/session", api.get_session),
        Route("/api/transcript", api.transcript),
        Route("/api/approvals", api.approvals),
        Route("/api/run", api.get_run),
        Route("/api/csrf", api.csrf),
        Route("/api/rename", api.rename, methods=["POST"]),
        Route("/api/autoname", api.autoname, methods=["POST"]),
        Route("/api/delete", api.delete, methods=["POST"]),
        Route("/api/continue", api.continue_run, methods=["POST"]),
        Mount("/static", StaticFiles(packages=[("sessionary_web", "static")]), name="static"),
    ]
    app = Starlette(
        routes=routes,
        middleware=[
            Middleware(
                Guard,
                token=token,
                csrf_token=config.csrf_token,
                allowed_hosts=allowed_hosts,
            )
        ],
        exception_handlers={SessionaryError: _error, UnicodeError: _error},
    )
    app.state.web = config
    return app


async def _error(request: Request, exc: Exception) -> Response:
    """A Sessionary error: JSON with the command line's code for the API, a page else."""
    code, exit_code, status = error_code(exc)
    message = public_message(exc)
    if "/api/" in request.url.path:
        body: dict[str, Any] = {"code": code, "exit_code": exit_code, "message": message}
        return JSONResponse({"error": body}, status_code=status)
    config = config_of(request)
    return config.templates.TemplateResponse(
        request,
        "error.html",
        {"title": config.title, "message": message, "code": code, "csrf": config.csrf_token},
        status_code=status,
    )
