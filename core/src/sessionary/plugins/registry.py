"""Registries: name (or URL scheme) to class, filled from registration hooks.

Every registry is one row of :data:`REGISTRIES`: the hook that fills it, what its
entries are called in errors, the class attribute that keys them, and the error for a
name nobody registered. :class:`Registry` is the one implementation behind them all.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs

from sessionary.errors import (
    DuplicatePluginError,
    PluginError,
    UnknownBackendError,
    UnknownProviderError,
)
from sessionary.plugins.lazy import LazyClass

__all__ = ["REGISTRIES", "Registry", "RegistrySpec", "qualname"]


@attrs.frozen
class RegistrySpec:
    """One registry: which hook fills it and how its classes are keyed.

    ``key`` is the class attribute an entry is found by (``name``, ``provider``, or
    ``url_schemes``, which lists several); a :class:`LazyClass` carries the same
    attributes. ``missing`` makes the error for a key nobody registered, given the key
    and the known keys.
    """

    hook: str
    kind: str
    key: str
    missing: Callable[[str, list[str]], Exception]

    def keys_of(self, cls: type | LazyClass) -> list[str]:
        """The keys ``cls`` claims in this registry."""
        value = getattr(cls, self.key)
        return list(value) if self.key == "url_schemes" else [value]


class Registry:
    """Classes by key, each remembered with the plugin that registered it.

    A second class under a key already taken is a :class:`DuplicatePluginError`
    that names both classes and both plugins. A :class:`LazyClass` is imported the
    first time one of its keys is asked for.
    """

    def __init__(self, spec: RegistrySpec) -> None:
        self.spec = spec
        self.kind = spec.kind
        self._entries: dict[str, tuple[type | LazyClass, str]] = {}

    def register(self, cls: type | LazyClass, plugin_name: str) -> None:
        """Add ``cls`` (a class, or a :class:`LazyClass` naming one) under each of its keys."""
        if not isinstance(cls, (type, LazyClass)):
            raise PluginError(
                f"plugin {plugin_name!r} registered {cls!r} as a {self.kind}, but it is not a class"
            )
        try:
            keys = self.spec.keys_of(cls)
        except AttributeError as exc:
            raise PluginError(
                f"plugin {plugin_name!r} registered {qualname(cls)} as a {self.kind} "
                f"without the attribute it needs: {exc}"
            ) from exc
        for key in keys:
            if not isinstance(key, str) or not key:
                raise PluginError(
                    f"plugin {plugin_name!r}: {self.kind} {qualname(cls)} has an empty "
                    f"or non-string name {key!r}"
                )
            existing = self._entries.get(key)
            if existing is not None and existing[0] is not cls:
                other, other_plugin = existing
                raise DuplicatePluginError(
                    f"{self.kind} {key!r} is registered twice: by {qualname(other)} "
                    f"(plugin {other_plugin!r}) and by {qualname(cls)} (plugin {plugin_name!r}); "
                    f"uninstall one or block it with SESSIONARY_DISABLE_PLUGINS"
                )
            self._entries[key] = (cls, plugin_name)

    def get(self, key: str) -> Any:
        """The class under ``key`` (imported now if it was registered lazily).

        An error listing the known names if there is none.
        """
        entry = self._entries.get(key)
        if entry is None:
            raise self.spec.missing(key, sorted(self._entries))
        target, plugin_name = entry
        if isinstance(target, LazyClass):
            loaded = target.load()
            for other_key, (other, other_plugin) in list(self._entries.items()):
                if other is target:
                    self._entries[other_key] = (loaded, other_plugin)
            return loaded
        return target

    def plugin_of(self, key: str) -> str:
        """The plugin that registered ``key``."""
        return self._entries[key][1]

    def names(self) -> list[str]:
        """Every registered key, sorted."""
        return sorted(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def qualname(cls: type | LazyClass) -> str:
    """``module.Class`` of a registered class (or of the class a lazy entry names)."""
    if isinstance(cls, LazyClass):
        return cls.target.replace(":", ".")
    return f"{cls.__module__}.{cls.__qualname__}"


def _not_named(kind: str) -> Callable[[str, list[str]], Exception]:
    def missing(key: str, known: list[str]) -> Exception:
        return PluginError(f"no {kind} named {key!r} (known: {', '.join(known) or 'none'})")

    return missing


def _no_provider(key: str, known: list[str]) -> Exception:
    return UnknownProviderError(
        f"no model provider named {key!r} (known: {', '.join(known)}); "
        f"install its adapter, e.g. 'pip install sessionary-{key.split('-')[0]}'"
    )


_ADAPTER_OF_SCHEME = {
    "sqlite": "sessionary-sqlite",
    "redis": "sessionary-redis",
    "rediss": "sessionary-redis",
    "unix": "sessionary-redis",
    "mongodb": "sessionary-mongodb",
    "mongodb+srv": "sessionary-mongodb",
}


def _no_scheme(scheme: str, known: list[str]) -> Exception:
    hint = _ADAPTER_OF_SCHEME.get(scheme)
    install = f"; install it with 'pip install {hint}'" if hint else ""
    return UnknownBackendError(
        f"no storage backend for URL scheme {scheme + '://'!r} "
        f"(installed: {', '.join(s + '://' for s in known)}){install}"
    )


def _spec(hook: str, kind: str, key: str = "name", missing: Any = None) -> RegistrySpec:
    return RegistrySpec(f"sessionary_{hook}", kind, key, missing or _not_named(kind))


#: Every registry the plugin host builds, by the name :meth:`PluginHost.registry` takes.
REGISTRIES: dict[str, RegistrySpec] = {
    "storage_by_scheme": _spec("storage_backends", "storage scheme", "url_schemes", _no_scheme),
    "models": _spec("model_providers", "model provider", "provider", _no_provider),
    "naming_guardrails": _spec("naming_guardrails", "naming guardrail"),
    "naming_fallbacks": _spec("naming_fallbacks", "naming fallback"),
    "caches": _spec("cache_backends", "cache backend"),
}
