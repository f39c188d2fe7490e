"""sessionary-web: the Sessionary inbox in the browser.

``inbox_app(agent_or_db)`` is an ASGI app (Starlette) to serve or mount; the plugin
adds ``sessionary serve`` to the command line. See ``docs/web.md``.

Starlette and Jinja2 load on first use of ``inbox_app``, not when plugins load.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__all__ = ["inbox_app"]


def __getattr__(name: str) -> Any:
    if name == "inbox_app":
        from sessionary_web.app import inbox_app

        return inbox_app
    raise AttributeError(f"module 'sessionary_web' has no attribute {name!r}")


if TYPE_CHECKING:
    from sessionary_web.app import inbox_app
