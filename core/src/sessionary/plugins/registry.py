"""Registries: name (or URL scheme) to class, filled from registration hooks."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Generic, TypeVar

from sessionary.errors import DuplicatePluginError, PluginError
from sessionary.plugins.lazy import LazyClass

__all__ = ["Registry"]

T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """Classes by name, each remembered with the plugin that registered it.

    A second class under a name already taken is a :class:`DuplicatePluginError`
    that names both classes and both plugins. ``keys`` says which names a class
    claims (its ``name`` by default; URL schemes for the storage scheme registry).
    """

    def __init__(
        self,
        kind: str,
        keys: Callable[[T], Iterable[str]],
        missing: Callable[[str, list[str]], Exception],
    ) -> None:
        self.kind = kind
        self._keys = keys
        self._missing = missing
        self._entries: dict[str, tuple[T | LazyClass, str]] = {}

    def register(self, cls: T | LazyClass, plugin_name: str) -> None:
        """Add ``cls`` (a class, or a :class:`LazyClass` naming one) under each of its keys."""
        if not isinstance(cls, (type, LazyClass)):
            raise PluginError(
                f"plugin {plugin_name!r} registered {cls!r} as a {self.kind}, but it is not a class"
            )
        try:
            keys = list(self._keys(cls))  # type: ignore[arg-type]  # a LazyClass has the keys
        except AttributeError as exc:
            raise PluginError(
                f"plugin {plugin_name!r} registered {_qualname(cls)} as a {self.kind} "
                f"without the attribute it needs: {exc}"
            ) from exc
        for key in keys:
            if not isinstance(key, str) or not key:
                raise PluginError(
                    f"plugin {plugin_name!r}: {self.kind} {_qualname(cls)} has an empty "
                    f"or non-string name {key!r}"
                )
            existing = self._entries.get(key)
            if existing is not None and existing[0] is not cls:
                other, other_plugin = existing
                raise DuplicatePluginError(
                    f"{self.kind} {key!r} is registered twice: by {_qualname(other)} "
                    f"(plugin {other_plugin!r}) and by {_qualname(cls)} (plugin {plugin_name!r}); "
                    f"uninstall one or block it with SESSIONARY_DISABLE_PLUGINS"
                )
            self._entries[key] = (cls, plugin_name)

    def get(self, key: str) -> T:
        """The class under ``key`` (imported now if it was registered lazily).

        An error listing the known names if there is none.
        """
        entry = self._entries.get(key)
        if entry is None:
            raise self._missing(key, sorted(self._entries))
        target, plugin_name = entry
        if isinstance(target, LazyClass):
            loaded = target.load()
            for other_key, (other, other_plugin) in list(self._entries.items()):
                if other is target:
                    self._entries[other_key] = (loaded, other_plugin)  # type: ignore[assignment]
            return loaded  # type: ignore[return-value]
        return target

    def plugin_of(self, key: str) -> str:
        """The plugin that registered ``key``."""
        return self._entries[key][1]

    def names(self) -> list[str]:
        """Every registered key, sorted."""
        return sorted(self._entries)

    def __contains__(self, key: object) -> bool:
        return key in self._entries


def _qualname(cls: type | LazyClass) -> str:
    if isinstance(cls, LazyClass):
        return cls.target.replace(":", ".")
    return f"{cls.__module__}.{cls.__qualname__}"
