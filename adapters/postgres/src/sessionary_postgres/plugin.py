"""The sessionary-postgres plugin: registers ``PostgresDb`` for ``postgresql://`` and ``postgres://``.

Nothing here imports psycopg: the store module loads when such a URL is first opened.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from sessionary.plugins.lazy import LazyClass, lazy
from sessionary.plugins.markers import hookimpl

if TYPE_CHECKING:
    from sessionary.storage.base import Store


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store] | LazyClass]:
    return [
        lazy(
            "sessionary_postgres.store:PostgresDb",
            name="postgres",
            url_schemes=("postgresql", "postgres"),
        )
    ]
