"""Translating the Anthropic SDK's exceptions into Sessionary's model errors.

The SDK is imported inside :func:`translate`, which only runs after a call into the
SDK failed, so importing this module imports no SDK.
"""

from __future__ import annotations

import importlib
from typing import Any

from sessionary.errors import (
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelServerError,
    ModelTimeoutError,
)
from sessionary.models.failures import model_error, provider_message, sdk_error_class

__all__ = ["error_from_type", "translate"]

#: ``error.type`` values of Anthropic's error bodies (also sent inside streams).
_TYPES: dict[str, type[ModelError]] = {
    "authentication_error": ModelAuthenticationError,
    "permission_error": ModelAuthenticationError,
    "billing_error": ModelAuthenticationError,
    "rate_limit_error": ModelRateLimitError,
    "invalid_request_error": ModelBadRequestError,
    "not_found_error": ModelBadRequestError,
    "request_too_large": ModelBadRequestError,
    "api_error": ModelServerError,
    "overloaded_error": ModelServerError,
    "timeout_error": ModelTimeoutError,
}


def error_from_type(
    label: str,
    error_type: str | None,
    message: str,
    *,
    default: type[ModelError] = ModelServerError,
) -> ModelError:
    """The error for an Anthropic ``error.type`` (as sent in a body or a stream event)."""
    return model_error(_TYPES.get(error_type or "", default), label, message)


def translate(exc: BaseException, label: str) -> ModelError:
    """The Sessionary error for an exception raised while calling the Anthropic SDK."""
    import anthropic

    message = provider_message(exc)
    cls = sdk_error_class(exc, anthropic)
    error_type = getattr(exc, "type", None)
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code < 400 and error_type:
        cls = _TYPES.get(error_type, ModelServerError)  # an error event inside a 200 stream
    elif cls is ModelBadRequestError:
        cls = _TYPES.get(error_type or "", ModelBadRequestError)
    elif isinstance(exc, anthropic.CredentialsError):
        # No key anywhere, so the SDK looked for a credentials profile and failed.
        missing = ModelAuthenticationError(
            f"{label}: no Anthropic API key; pass api_key=... or set ANTHROPIC_API_KEY "
            f"(the SDK found no other credentials either: {message})",
            provider_message=message,
        )
        missing.__cause__ = exc
        return missing
    elif cls is None and isinstance(exc, _timeouts()):
        cls = ModelTimeoutError
    elif cls is None and isinstance(exc, _transport_errors()):  # the stream broke while read
        cls = ModelConnectionError
        message = f"{type(exc).__name__}: {exc}"
    return model_error(
        cls or ModelError, label, message, status=getattr(exc, "status_code", None), cause=exc
    )


def _http_modules() -> list[Any]:
    found = []
    for name in ("httpx2", "httpx"):
        try:
            found.append(importlib.import_module(name))
        except ImportError:
            continue
    return found


def _timeouts() -> tuple[type[BaseException], ...]:
    return tuple(m.TimeoutException for m in _http_modules())


def _transport_errors() -> tuple[type[BaseException], ...]:
    return tuple(m.TransportError for m in _http_modules())
