"""The sessionary-sqlite plugin: registers ``SqliteDb`` for the ``sqlite://`` scheme."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionary.plugins.lazy import LazyClass, lazy
from sessionary.plugins.markers import hookimpl

if TYPE_CHECKING:
    from sessionary.storage.base import Store


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store] | LazyClass]:
    # Registered by name: the store module loads when sqlite:// is first opened.
    return [lazy("sessionary_sqlite.store:SqliteDb", name="sqlite", url_schemes=("sqlite",))]
