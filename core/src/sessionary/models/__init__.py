"""Model providers: the contract, and ``get_model`` to pick one by name."""

from sessionary.models.base import (
    ContentDelta,
    Model,
    ModelRequest,
    ModelResponse,
    ModelUsage,
    ToolSpec,
)

__all__ = ["ContentDelta", "Model", "ModelRequest", "ModelResponse", "ModelUsage", "ToolSpec"]
