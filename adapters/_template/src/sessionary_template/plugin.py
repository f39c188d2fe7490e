"""Registers TemplateDb for the template:// scheme."""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import Store, hookimpl


@hookimpl
def sessionary_storage_backends() -> Sequence[type[Store]]:
    from sessionary_template.store import TemplateDb  # imported when first asked for

    return [TemplateDb]
