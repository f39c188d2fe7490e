"""Loading plugins: entry points, then the built-ins, then ``check_pending()``.

Nothing here runs at ``import sessionary``: the plugin host is made on first use of a
registry (``open_db``, ``get_model``, an agent's first run).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import os
import threading
import warnings
from typing import Any

import attrs
import pluggy

from sessionary.errors import PluginError
from sessionary.plugins.markers import PROJECT
from sessionary.plugins.registry import REGISTRIES, Registry, qualname

__all__ = [
    "DISABLE_ENV",
    "PluginClash",
    "PluginHost",
    "PluginRecord",
    "PluginWarning",
    "get_plugin_host",
    "reset_plugin_host",
]

#: Comma-separated plugin (entry point) names not to load.
DISABLE_ENV = "SESSIONARY_DISABLE_PLUGINS"
BUILTIN_NAME = "sessionary"
#: The hook specifications and the built-in plugin. Both name classes of the packages
#: above this one, so they are imported by name when plugins load (as pluggy and llm
#: load their default plugins): ``sessionary.plugins`` imports nothing above it.
HOOKSPECS = "sessionary.hookspecs"
BUILTINS = "sessionary.builtins"


class PluginWarning(UserWarning):
    """A plugin failed to load and was skipped."""


@attrs.frozen(kw_only=True)
class PluginRecord:
    """What ``sessionary plugins`` reports of one plugin."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    #: ``loaded``, ``failed`` or ``disabled``.
    status: str
    hooks: tuple[str, ...] = ()
    error: str | None = None


@attrs.frozen(kw_only=True)
class PluginClash:
    """Two or more plugins registering one name (or URL scheme) in one registry."""

    #: What the name is of: ``naming fallback``, ``model provider``, ...
    kind: str
    key: str
    #: The plugins (entry point names) that register it, in load order.
    plugins: tuple[str, ...]
    #: The error using that registry raises, naming the classes and the plugins.
    message: str


class PluginHost:
    """The plugin manager and the registries built from its hooks."""

    def __init__(self, pm: pluggy.PluginManager, records: list[PluginRecord]) -> None:
        self.pm = pm
        self.records = records
        self._lock = threading.Lock()
        self._registries: dict[str, Registry] = {}

    @property
    def hook(self) -> Any:
        """``pm.hook``: call event hooks through this."""
        return self.pm.hook

    def registry(self, which: str) -> Registry:
        """The registry ``which`` names in :data:`REGISTRIES`, built on first use."""
        with self._lock:
            registry = self._registries.get(which)
            if registry is None:
                registry = Registry(REGISTRIES[which])
                caller = getattr(self.pm.hook, registry.spec.hook)
                # Call each implementation on its own so every class is tied to its plugin.
                for impl in reversed(caller.get_hookimpls()):
                    for cls in impl.function() or ():
                        registry.register(cls, impl.plugin_name)
                self._registries[which] = registry
            return registry

    def clashes(self) -> list[PluginClash]:
        """Every name two plugins register, in every registry, found without raising.

        Using a registry with a clash raises :class:`~sessionary.errors.DuplicatePluginError`;
        ``sessionary plugins`` and ``sessionary doctor`` report these up front.
        """
        found: list[PluginClash] = []
        for spec in REGISTRIES.values():
            claims: dict[str, dict[object, str]] = {}
            for impl in reversed(getattr(self.pm.hook, spec.hook).get_hookimpls()):
                try:
                    classes = list(impl.function() or ())
                except Exception:  # a broken hook is reported when the registry is used
                    continue
                for cls in classes:
                    try:
                        keys = spec.keys_of(cls)
                    except AttributeError:
                        continue
                    for key in keys:
                        claims.setdefault(key, {}).setdefault(cls, impl.plugin_name)
            for key, by_class in sorted(claims.items()):
                if len(by_class) < 2:
                    continue
                claimants = ", ".join(
                    f"{qualname(cls)} (plugin {plugin_name!r})"  # type: ignore[arg-type]
                    for cls, plugin_name in by_class.items()
                )
                message = (
                    f"{spec.kind} {key!r} is registered {len(by_class)} times: by {claimants}; "
                    f"uninstall all but one or block the others with {DISABLE_ENV}"
                )
                found.append(
                    PluginClash(
                        kind=spec.kind,
                        key=key,
                        plugins=tuple(dict.fromkeys(by_class.values())),
                        message=message,
                    )
                )
        return found

    def storage_by_scheme(self) -> Registry:
        """Storage backend classes by URL scheme."""
        return self.registry("storage_by_scheme")

    def models(self) -> Registry:
        """Model provider classes by provider name."""
        return self.registry("models")

    def naming_guardrails(self) -> Registry:
        """Naming guardrail classes by name."""
        return self.registry("naming_guardrails")

    def naming_fallbacks(self) -> Registry:
        """Naming fallback classes by name."""
        return self.registry("naming_fallbacks")

    def caches(self) -> Registry:
        """Session cache classes by name."""
        return self.registry("caches")


def _disabled() -> set[str]:
    raw = os.environ.get(DISABLE_ENV, "")
    return {name.strip() for name in raw.split(",") if name.strip()}


def _hooks_of(pm: pluggy.PluginManager, plugin: object) -> tuple[str, ...]:
    callers = pm.get_hookcallers(plugin) or []
    return tuple(sorted(caller.name for caller in callers))


def _load() -> PluginHost:
    pm = pluggy.PluginManager(PROJECT)
    pm.add_hookspecs(importlib.import_module(HOOKSPECS))
    records: list[PluginRecord] = []
    disabled = _disabled()
    seen: set[str] = set()
    for ep in importlib.metadata.entry_points(group=PROJECT):
        if ep.name in seen:
            continue  # the same distribution found twice on sys.path
        seen.add(ep.name)
        dist = getattr(ep, "dist", None)
        dist_name = dist.metadata["Name"] if dist is not None else None
        version = dist.version if dist is not None else None
        record = functools.partial(
            PluginRecord, name=ep.name, module=ep.value, distribution=dist_name, version=version
        )
        if ep.name in disabled:
            pm.set_blocked(ep.name)
            records.append(record(status="disabled"))
            continue
        try:
            plugin = ep.load()
            pm.register(plugin, name=ep.name)
        except Exception as exc:  # a broken plugin is reported and skipped, never half-loaded
            if pm.has_plugin(ep.name):
                pm.unregister(name=ep.name)
            warnings.warn(
                f"sessionary plugin {ep.name!r} ({ep.value}) failed to load and was skipped: "
                f"{type(exc).__name__}: {exc}",
                PluginWarning,
                stacklevel=3,
            )
            records.append(record(status="failed", error=f"{type(exc).__name__}: {exc}"))
            continue
        records.append(record(status="loaded", hooks=_hooks_of(pm, plugin)))

    builtins = importlib.import_module(BUILTINS)
    if BUILTIN_NAME in disabled:
        records.append(_builtin_record(status="disabled"))
    else:
        pm.register(builtins, name=BUILTIN_NAME)
        records.append(_builtin_record(status="loaded", hooks=_hooks_of(pm, builtins)))
    try:
        pm.check_pending()
    except pluggy.PluginValidationError as exc:
        raise PluginError(
            f"{exc} (a misspelled hook name? block the plugin with {DISABLE_ENV}="
            f"{getattr(exc.plugin, '__name__', exc.plugin)!s})"
        ) from exc
    return PluginHost(pm, records)


def _builtin_record(status: str, hooks: tuple[str, ...] = ()) -> PluginRecord:
    try:
        version: str | None = importlib.metadata.version("sessionary")
    except importlib.metadata.PackageNotFoundError:
        version = None
    return PluginRecord(
        name=BUILTIN_NAME,
        module=BUILTINS,
        distribution="sessionary",
        version=version,
        status=status,
        hooks=hooks,
    )


_host: PluginHost | None = None
_host_lock = threading.Lock()


def get_plugin_host() -> PluginHost:
    """The process-wide plugin host, loading plugins on first call."""
    global _host
    host = _host
    if host is None:
        with _host_lock:
            if _host is None:
                _host = _load()
            host = _host
    return host


def reset_plugin_host() -> None:
    """Forget loaded plugins, so the next use loads them again (for tests)."""
    global _host
    with _host_lock:
        _host = None
