"""The sessionary-openai plugin: registers ``openai`` and ``openai-chat`` model providers.

Registering imports the provider classes, never the ``openai`` SDK.
"""

from __future__ import annotations

from collections.abc import Sequence

from sessionary.models.base import Model
from sessionary.plugins.markers import hookimpl
from sessionary_openai.chat import OpenAIChat
from sessionary_openai.responses import OpenAIResponses


@hookimpl
def sessionary_model_providers() -> Sequence[type[Model]]:
    """``openai:MODEL`` (Responses API) and ``openai-chat:MODEL`` (Chat Completions)."""
    return [OpenAIResponses, OpenAIChat]
