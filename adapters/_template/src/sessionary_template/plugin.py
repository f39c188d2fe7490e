"""Registers TemplateDb for the template:// scheme, by name: nothing heavy is imported here."""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import Store, hookimpl
from sessionary.plugins import LazyClass, lazy


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store] | LazyClass]:
    return [
        lazy("sessionary_template.store:TemplateDb", name="template", url_schemes=("template",))
    ]
