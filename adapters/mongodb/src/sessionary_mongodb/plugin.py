"""The sessionary-mongodb plugin: registers MongoDb for ``mongodb://`` and ``mongodb+srv://``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionary.plugins.markers import hookimpl

if TYPE_CHECKING:
    from sessionary.storage.base import Store


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store]]:
    """MongoDb, imported (with pymongo) only when the registry is first built."""
    from sessionary_mongodb.store import MongoDb

    return [MongoDb]
