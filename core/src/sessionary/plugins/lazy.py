"""Registering a class by its import path, so its module loads only when it is used."""

from __future__ import annotations

import importlib
from collections.abc import Iterable

import attrs

from sessionary.errors import PluginError

__all__ = ["LazyClass", "lazy"]


def _schemes(value: str | Iterable[str]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    return tuple(value)


@attrs.frozen
class LazyClass:
    """A class named by ``"module:Class"`` with the registry keys it will claim.

    Registration hooks may return these in place of classes. The registries read the
    keys (``name``, ``url_schemes``, ``provider``) from here, and import the module only
    when that name or scheme is first asked for, so opening a SQLite store never imports
    the Redis or MongoDB client. The loaded class must claim the same keys.
    """

    target: str
    name: str | None = None
    url_schemes: tuple[str, ...] = attrs.field(default=(), converter=_schemes)
    provider: str | None = None

    def load(self) -> type:
        """Import and return the class."""
        module_name, _, attribute = self.target.partition(":")
        if not module_name or not attribute:
            raise PluginError(f"lazy class {self.target!r} must be written 'module:Class'")
        try:
            value = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError) as exc:
            raise PluginError(f"cannot load {self.target}: {type(exc).__name__}: {exc}") from exc
        if not isinstance(value, type):
            raise PluginError(f"{self.target} is not a class")
        for key in ("name", "provider"):
            declared = getattr(self, key)
            if declared is not None and getattr(value, key, None) != declared:
                raise PluginError(
                    f"{self.target} was registered as {key} {declared!r} but its {key} is "
                    f"{getattr(value, key, None)!r}"
                )
        if self.url_schemes and tuple(getattr(value, "url_schemes", ())) != self.url_schemes:
            raise PluginError(
                f"{self.target} was registered for the schemes {self.url_schemes!r} but "
                f"declares {tuple(getattr(value, 'url_schemes', ()))!r}"
            )
        return value


def lazy(
    target: str,
    *,
    name: str | None = None,
    url_schemes: tuple[str, ...] | str = (),
    provider: str | None = None,
) -> LazyClass:
    """Register ``"module:Class"`` without importing it until it is needed.

    >>> lazy("sessionary_redis.store:RedisDb", name="redis", url_schemes=("redis",)).target
    'sessionary_redis.store:RedisDb'
    """
    return LazyClass(target, name=name, url_schemes=url_schemes, provider=provider)
