"""The plugin system: markers, the manager and the registries."""

from sessionary.plugins.lazy import LazyClass, lazy
from sessionary.plugins.manager import PluginHost, PluginRecord, get_plugin_host, reset_plugin_host
from sessionary.plugins.markers import hookimpl

__all__ = [
    "LazyClass",
    "PluginHost",
    "PluginRecord",
    "get_plugin_host",
    "hookimpl",
    "lazy",
    "reset_plugin_host",
]
