"""The built-ins, registered as a plugin through the same hooks as everyone else's.

This module sits above the packages whose classes it registers; the plugin manager
loads it by name (as it loads :mod:`sessionary.hookspecs`), so ``sessionary.plugins``
imports nothing above it.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionary.caching.base import SessionCache
from sessionary.caching.memory import MemoryCache
from sessionary.models.base import Model
from sessionary.models.scripted import ScriptedModel
from sessionary.naming.basic import BasicGuardrail
from sessionary.naming.policy import NamingGuardrail
from sessionary.plugins.markers import hookimpl
from sessionary.storage.base import Store
from sessionary.storage.memory import MemoryDb


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store]]:
    """The in-memory store, ``memory://``."""
    return [MemoryDb]


@hookimpl
def sessionary_naming_guardrails() -> Sequence[type[NamingGuardrail]]:
    """The core's minimum, ``basic``: one printable line, never empty (always run last)."""
    return [BasicGuardrail]


@hookimpl
def sessionary_model_providers() -> Sequence[type[Model]]:
    """The scripted model, ``scripted:NAME``, for demos and tests."""
    return [ScriptedModel]


@hookimpl
def sessionary_cache_backends() -> Sequence[type[SessionCache]]:
    """The in-process LRU session cache, ``memory``."""
    return [MemoryCache]
