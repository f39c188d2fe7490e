"""Translating the OpenAI SDK's exceptions into Sessionary's model errors.

The SDK is imported inside :func:`translate`, which only runs after a call into the
SDK failed, so importing this module imports no SDK.
"""

from __future__ import annotations

import os
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

__all__ = ["error_from_code", "translate"]

#: Error ``code`` / ``type`` values the API sends inside a stream, by error class.
_CODES: dict[str, type[ModelError]] = {
    "invalid_api_key": ModelAuthenticationError,
    "authentication_error": ModelAuthenticationError,
    "permission_denied": ModelAuthenticationError,
    "rate_limit_exceeded": ModelRateLimitError,
    "rate_limit_error": ModelRateLimitError,
    "insufficient_quota": ModelRateLimitError,
    "tokens": ModelRateLimitError,
    "requests": ModelRateLimitError,
    "invalid_request_error": ModelBadRequestError,
    "invalid_prompt": ModelBadRequestError,
    "context_length_exceeded": ModelBadRequestError,
    "server_error": ModelServerError,
    "server_is_overloaded": ModelServerError,
    "internal_error": ModelServerError,
    "timeout": ModelTimeoutError,
}


def error_from_code(
    label: str, code: str | None, message: str, *, default: type[ModelError] = ModelServerError
) -> ModelError:
    """The error for an error ``code`` the API reported inside a response or stream."""
    cls = _CODES.get(code or "", default)
    return cls(f"{label}: {_describe(cls)}: {message}", provider_message=message)


def translate(exc: BaseException, label: str) -> ModelError:
    """The Sessionary error for an exception the OpenAI SDK raised during a call."""
    import openai

    message = _provider_message(exc)
    cls: type[ModelError]
    if isinstance(exc, openai.APITimeoutError):
        cls = ModelTimeoutError
    elif isinstance(exc, openai.APIConnectionError):
        cls = ModelConnectionError
        cause = exc.__cause__
        if cause is not None and str(cause):
            message = f"{message} ({type(cause).__name__}: {_reason(cause)})"
    elif isinstance(exc, (openai.AuthenticationError, openai.PermissionDeniedError)):
        cls = ModelAuthenticationError
    elif isinstance(exc, openai.RateLimitError):
        cls = ModelRateLimitError
    elif isinstance(exc, openai.APIResponseValidationError):
        cls = ModelResponseError
    elif isinstance(exc, openai.APIStatusError):
        cls = _by_status(exc.status_code)
    elif isinstance(exc, openai.APIError):  # an error event inside a stream
        code = exc.code or exc.type
        cls = _CODES.get(code or "", ModelServerError)
    else:
        cls = ModelError
    status = getattr(exc, "status_code", None)
    where = f" (HTTP {status})" if isinstance(status, int) else ""
    error = cls(f"{label}: {_describe(cls)}{where}: {message}", provider_message=message)
    error.__cause__ = exc
    return error


def _by_status(status: int) -> type[ModelError]:
    if status in (401, 403):
        return ModelAuthenticationError
    if status == 429:
        return ModelRateLimitError
    if status in (408, 504):
        return ModelTimeoutError
    if status >= 500:
        return ModelServerError
    if status >= 400:
        return ModelBadRequestError
    return ModelResponseError


def _reason(error: BaseException) -> str:
    """Why a connection failed, worded alike by the sync and the async transport.

    The sync transport says "[Errno 111] Connection refused"; the async one "All
    connection attempts failed", with the refusal further down the chain of causes. The
    deepest operating-system error with an errno is the reason both share.
    """
    errno: int | None = None
    seen: BaseException | None = error
    for _ in range(12):  # the HTTP libraries re-raise with ``from None``: follow contexts too
        if seen is None:
            break
        if isinstance(seen, OSError) and isinstance(seen.errno, int) and seen.errno > 0:
            errno = seen.errno
        seen = seen.__cause__ or seen.__context__
    if errno is None:
        return str(error)
    return f"[Errno {errno}] {os.strerror(errno)}"


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
