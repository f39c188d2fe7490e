"""The sessionary-mongodb plugin: registers MongoDb for ``mongodb://`` and ``mongodb+srv://``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionary.plugins.lazy import LazyClass, lazy
from sessionary.plugins.markers import hookimpl

if TYPE_CHECKING:
    from sessionary.storage.base import Store


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store] | LazyClass]:
    # Registered by name: pymongo loads when mongodb:// is first opened.
    return [
        lazy(
            "sessionary_mongodb.store:MongoDb",
            name="mongodb",
            url_schemes=("mongodb", "mongodb+srv"),
        )
    ]
