"""Translating the Anthropic SDK's exceptions into Sessionary's model errors.

The SDK is imported inside :func:`translate`, which only runs after a call into the
SDK failed, so importing this module imports no SDK.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from sessionary.errors import (
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)

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
    cls = _TYPES.get(error_type or "", default)
    return cls(f"{label}: {_describe(cls)}: {message}", provider_message=message)


def translate(exc: BaseException, label: str) -> ModelError:
    """The Sessionary error for an exception raised while calling the Anthropic SDK."""
    import anthropic

    message = _provider_message(exc)
    cls: type[ModelError]
    if isinstance(exc, anthropic.APITimeoutError):
        cls = ModelTimeoutError
    elif isinstance(exc, anthropic.APIConnectionError):
        cls = ModelConnectionError
    elif isinstance(exc, (anthropic.AuthenticationError, anthropic.PermissionDeniedError)):
        cls = ModelAuthenticationError
    elif isinstance(exc, anthropic.RateLimitError):
        cls = ModelRateLimitError
    elif isinstance(exc, anthropic.APIResponseValidationError):
        cls = ModelResponseError
    elif isinstance(exc, anthropic.APIStatusError):
        error_type = getattr(exc, "type", None)
        if exc.status_code < 400 and error_type:  # an error event inside a 200 stream
            cls = _TYPES.get(error_type, ModelServerError)
        else:
            cls = _by_status(exc.status_code, error_type)
    elif isinstance(exc, anthropic.CredentialsError):
        # No key anywhere, so the SDK looked for a credentials profile and failed.
        missing = ModelAuthenticationError(
            f"{label}: no Anthropic API key; pass api_key=... or set ANTHROPIC_API_KEY "
            f"(the SDK found no other credentials either: {message})",
            provider_message=message,
        )
        missing.__cause__ = exc
        return missing
    elif isinstance(exc, _timeouts()):
        cls = ModelTimeoutError
    elif isinstance(exc, _transport_errors()):  # the stream broke while it was read
        cls = ModelConnectionError
        message = f"{type(exc).__name__}: {exc}"
    else:
        cls = ModelError
    status = getattr(exc, "status_code", None)
    where = f" (HTTP {status})" if isinstance(status, int) and status >= 400 else ""
    error = cls(f"{label}: {_describe(cls)}{where}: {message}", provider_message=message)
    error.__cause__ = exc
    return error


def _by_status(status: int, error_type: str | None) -> type[ModelError]:
    if status in (401, 403):
        return ModelAuthenticationError
    if status == 429:
        return ModelRateLimitError
    if status in (408, 504):
        return ModelTimeoutError
    if status >= 500:
        return ModelServerError
    if status >= 400:
        return _TYPES.get(error_type or "", ModelBadRequestError)
    return ModelResponseError


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


def _provider_message(exc: BaseException) -> str:
    body: Any = getattr(exc, "body", None)
    if isinstance(body, Mapping):
        inner = body.get("error", body)
        if isinstance(inner, Mapping) and isinstance(inner.get("message"), str):
            return str(inner["message"])
    if isinstance(body, str) and body.strip():
        return body.strip()
    message = getattr(exc, "message", None)
    return message if isinstance(message, str) and message else str(exc)


def _describe(cls: type[ModelError]) -> str:
    return {
        ModelAuthenticationError: "authentication failed",
        ModelRateLimitError: "rate limited",
        ModelBadRequestError: "bad request",
        ModelServerError: "server error",
        ModelTimeoutError: "timed out",
        ModelConnectionError: "connection failed",
        ModelResponseError: "unusable response",
    }.get(cls, "call failed")
