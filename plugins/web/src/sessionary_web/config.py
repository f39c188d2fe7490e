"""What every handler of one inbox app shares, and how a page is rendered."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.templating import Jinja2Templates

from sessionary_web.source import Inbox

__all__ = ["UserScope", "WebConfig", "config_of", "html"]

#: Who the caller is: a fixed user, a function of the request (your app's login), or
#: ``None`` for an operator who sees every user's sessions.
UserScope = str | Callable[[Request], str | None] | None


@attrs.define
class WebConfig:
    """What every handler of one app shares (``request.app.state.web``)."""

    inbox: Inbox
    user: UserScope
    csrf_token: str
    templates: Jinja2Templates
    title: str
    page_size: int

    def user_of(self, request: Request) -> str | None:
        """The user the request is scoped to, or ``None`` (every user)."""
        if callable(self.user):
            return self.user(request)
        return self.user


def config_of(request: Request) -> WebConfig:
    """The app's shared configuration."""
    config: WebConfig = request.app.state.web
    return config


def html(request: Request, name: str, context: dict[str, Any]) -> HTMLResponse:
    """Render a page with what every page needs (title, CSRF token)."""
    config = config_of(request)
    full = {"title": config.title, "csrf": config.csrf_token, **context}
    response: HTMLResponse = config.templates.TemplateResponse(request, name, full)
    return response
