"""Translating the OpenAI SDK's exceptions into Sessionary's model errors.

The SDK is imported inside :func:`translate`, which only runs after a call into the
SDK failed, so importing this module imports no SDK.
"""

from __future__ import annotations

import os

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
    return model_error(_CODES.get(code or "", default), label, message)


def translate(exc: BaseException, label: str) -> ModelError:
    """The Sessionary error for an exception the OpenAI SDK raised during a call."""
    import openai

    message = provider_message(exc)
    cls = sdk_error_class(exc, openai)
    if cls is ModelConnectionError:
        cause = exc.__cause__
        if cause is not None and str(cause):
            message = f"{message} ({type(cause).__name__}: {_reason(cause)})"
    elif cls is None and isinstance(exc, openai.APIError):  # an error event inside a stream
        cls = _CODES.get(exc.code or exc.type or "", ModelServerError)
    return model_error(
        cls or ModelError, label, message, status=getattr(exc, "status_code", None), cause=exc
    )


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
