"""MongoDB storage adapter for Sessionary: ``from sessionary_mongodb import MongoDb``.

>>> from sessionary_mongodb import MongoDb
>>> MongoDb.url_schemes
('mongodb', 'mongodb+srv')

Names are imported on first use, so loading the plugin does not import pymongo.
"""

from __future__ import annotations

import importlib

TYPE_CHECKING = False

__all__ = ["AsyncMongoStore", "DocumentTooLargeError", "MongoDb"]

_LAZY = {
    "MongoDb": "sessionary_mongodb.store",
    "AsyncMongoStore": "sessionary_mongodb.aio",
    "DocumentTooLargeError": "sessionary_mongodb.documents",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessionary_mongodb' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return __all__


if TYPE_CHECKING:
    from sessionary_mongodb.aio import AsyncMongoStore
    from sessionary_mongodb.documents import DocumentTooLargeError
    from sessionary_mongodb.store import MongoDb
