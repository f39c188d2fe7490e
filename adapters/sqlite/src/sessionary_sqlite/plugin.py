"""The sessionary-sqlite plugin: registers ``SqliteDb`` for the ``sqlite://`` scheme."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionary.plugins.markers import hookimpl

if TYPE_CHECKING:
    from sessionary.storage.base import Store


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store]]:
    """``SqliteDb``, the embedded default store, for ``sqlite://`` URLs."""
    from sessionary_sqlite.store import SqliteDb  # imported when storage is first asked for

    return [SqliteDb]
