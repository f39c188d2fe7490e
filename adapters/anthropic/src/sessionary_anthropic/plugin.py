"""The sessionary-anthropic plugin: registers the ``anthropic`` model provider.

Registering imports the provider class, never the ``anthropic`` SDK.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionary.models.base import Model
from sessionary.plugins.markers import hookimpl
from sessionary_anthropic.claude import Claude


@hookimpl
def sessionary_model_providers() -> Sequence[type[Model]]:
    """``anthropic:MODEL``: Claude on the Messages API."""
    return [Claude]
