"""Safe by default: a token when one is set, and no cross-site writes.

* **Token.** With a token, every request needs it: ``Authorization: Bearer TOKEN``, or
  the cookie a browser gets by opening any page once with ``?token=TOKEN`` (the page
  then redirects to itself without it, so the token leaves the address bar and the
  history). Compared in constant time.
* **Cross-site writes.** Every POST needs the header ``X-CSRF-Token`` with the app's
  CSRF token, which only a page of this app (or ``GET /api/csrf``) can read: a form or
  script on another site cannot send it, since a custom header needs a CORS preflight
  this app never grants. A request whose ``Origin`` is not this host, or that the
  browser marks ``Sec-Fetch-Site: cross-site``, is refused as well. A request with the
  bearer token needs no CSRF token (a browser never adds that header by itself).
* **Host names.** With ``allowed_hosts``, a request for another ``Host`` is refused,
  so a site that rebinds its DNS name to 127.0.0.1 cannot read the inbox.

Written as a plain ASGI middleware; Starlette has no CSRF protection of its own.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence
from urllib.parse import urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

__all__ = ["COOKIE", "CSRF_HEADER", "Guard"]

COOKIE = "sessionary_token"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def _same(a: str | None, b: str) -> bool:
    return a is not None and hmac.compare_digest(a.encode(), b.encode())


def _refuse(request: Request, status: int, code: str, message: str) -> Response:
    if "/api/" in request.url.path or "application/json" in request.headers.get("accept", ""):
        body = {"error": {"code": code, "exit_code": 2, "message": message}}
        return JSONResponse(body, status_code=status)
    return PlainTextResponse(message, status_code=status)


class Guard:
    """The ASGI middleware in front of the inbox app (see the module docs)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        token: str | None,
        csrf_token: str,
        allowed_hosts: Sequence[str] | None = None,
    ) -> None:
        self.app = app
        self.token = token
        self.csrf_token = csrf_token
        self.allowed_hosts = None if allowed_hosts is None else {h.lower() for h in allowed_hosts}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        refusal = self.check(request)
        if refusal is not None:
            await refusal(scope, receive, send)
            return
        await self.app(scope, receive, send)

    def check(self, request: Request) -> Response | None:
        """The response that refuses ``request``, or ``None`` to let it through."""
        host = request.headers.get("host", "")
        if self.allowed_hosts is not None and _hostname(host) not in self.allowed_hosts:
            return _refuse(request, 400, "bad_host", f"this server does not answer for {host!r}")
        bearer = request.headers.get("authorization", "")
        by_header = bearer.lower().startswith("bearer ") and self.token is not None
        by_header = by_header and _same(bearer[7:].strip(), self.token or "")
        if self.token is not None and not by_header:
            given = request.query_params.get("token")
            if request.method == "GET" and given is not None and _same(given, self.token):
                return self._remember(request)
            if not _same(request.cookies.get(COOKIE), self.token):
                return _refuse(
                    request,
                    401,
                    "unauthorized",
                    "this inbox needs its token: open it once with ?token=TOKEN, "
                    "or send Authorization: Bearer TOKEN",
                )
        if request.method in SAFE_METHODS or by_header:
            return None
        if request.headers.get("sec-fetch-site") in ("cross-site", "same-site"):
            return _refuse(request, 403, "cross_site", "cross-site requests are refused")
        origin = request.headers.get("origin")
        if origin is not None and urlsplit(origin).netloc.lower() != host.lower():
            return _refuse(request, 403, "cross_site", f"requests from {origin} are refused")
        if not _same(request.headers.get(CSRF_HEADER), self.csrf_token):
            return _refuse(
                request,
                403,
                "csrf",
                "missing or wrong X-CSRF-Token header (pages send it; scripts read it "
                "from GET /api/csrf, or send the bearer token)",
            )
        return None

    def _remember(self, request: Request) -> Response:
        """Set the token cookie and send the browser to the same page without the token."""
        params = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(params)}" if params else "")
        response = RedirectResponse(target, status_code=303)
        root = request.scope.get("root_path") or "/"
        response.set_cookie(COOKIE, self.token or "", httponly=True, samesite="strict", path=root)
        return response


def _hostname(host: str) -> str:
    """``host[:port]`` without the port (IPv6 in brackets kept)."""
    host = host.lower()
    if host.startswith("["):
        return host.split("]")[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host
