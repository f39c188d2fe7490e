"""Every hook a Sessionary plugin can implement.

Registration hooks return classes, each with a ``name`` (storage backends also list
their URL schemes, model providers their ``provider`` name); the registries refuse a
second class under one name and name both. A hook may return
``sessionary.plugins.lazy("module:Class", name=..., url_schemes=...)`` in place of a
class, so that the module (and the client library it imports) loads only when used.
Event hooks are observers: they are called after the fact and their return values are
ignored.

Implement a hook with :data:`sessionary.hookimpl` in a module named by an entry point
of the ``sessionary`` group. ``docs/hooks.md`` documents each hook with an example.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionary.plugins.markers import hookspec

if TYPE_CHECKING:
    from sessionary.caching.base import SessionCache
    from sessionary.domain.runs import Run
    from sessionary.domain.sessions import SessionInfo
    from sessionary.models.base import Model
    from sessionary.naming.policy import NamingFallback, NamingGuardrail
    from sessionary.plugins.lazy import LazyClass
    from sessionary.storage.base import Store

# ----------------------------------------------------------------------------- storage


@hookspec
def sessionary_storage_backends() -> Sequence[type[Store] | LazyClass]:
    """Return storage backend classes (subclasses of Store with name and url_schemes)."""
    raise NotImplementedError


# ----------------------------------------------------------------------------- models


@hookspec
def sessionary_model_providers() -> Sequence[type[Model] | LazyClass]:
    """Return model provider classes (subclasses of Model with a provider name)."""
    raise NotImplementedError


# ----------------------------------------------------------------------------- naming


@hookspec
def sessionary_naming_guardrails() -> Sequence[type[NamingGuardrail] | LazyClass]:
    """Return naming guardrail classes, each checking or cleaning a proposed name."""
    raise NotImplementedError


@hookspec
def sessionary_naming_fallbacks() -> Sequence[type[NamingFallback] | LazyClass]:
    """Return naming fallback classes, each proposing a name when the model cannot."""
    raise NotImplementedError


# ----------------------------------------------------------------------------- caching


@hookspec
def sessionary_cache_backends() -> Sequence[type[SessionCache] | LazyClass]:
    """Return session cache classes (subclasses of SessionCache with a name)."""
    raise NotImplementedError


# ----------------------------------------------------------------------------- command line


@hookspec
def sessionary_cli_commands() -> Sequence[object]:
    """Return click commands that the ``sessionary`` command line adds under their names."""
    raise NotImplementedError


# ----------------------------------------------------------------------------- events


@hookspec
def sessionary_run_saved(run: Run, session: SessionInfo) -> None:
    """Called after a run was stored (appended or updated), with the session's summary."""


@hookspec
def sessionary_session_renamed(session: SessionInfo, old_name: str | None) -> None:
    """Called after a session's name changed; ``session.name_source`` says who named it."""


@hookspec
def sessionary_session_deleted(session_id: str, user_id: str | None) -> None:
    """Called after a session and its runs were deleted."""
