"""What both OpenAI providers share: the ``openai`` SDK's clients, credentials and errors.

The SDK is imported inside the methods that make a client or translate an error, so
importing this module imports no SDK.

Options, lazy clients, the four ways of answering and the passing of ``request_params``
are :class:`~sessionary.models.provider.SDKModel`'s; a provider class supplies its
endpoint, its request body, how to parse an answer and how to fold a stream's events.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sessionary.domain.messages import ToolCall
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
from sessionary.models.provider import SDKModel

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIBase", "decode_arguments", "error_from_code"]

#: Client options that supply credentials other than an API key.
_OTHER_CREDENTIALS = frozenset({"workload_identity", "admin_api_key", "provider"})

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


class OpenAIBase(SDKModel["openai.OpenAI", "openai.AsyncOpenAI"]):
    """The ``openai`` SDK under :class:`OpenAIResponses` and :class:`OpenAIChat`.

    Nothing here does I/O or imports the SDK until the first call. The sync calls use
    one ``openai.OpenAI`` client; the async ones an ``openai.AsyncOpenAI`` with the same
    options, one per running event loop (see :meth:`async_client`).
    """

    def _sync_client_class(self) -> type[openai.OpenAI]:
        import openai

        return openai.OpenAI

    def _async_client_class(self) -> type[openai.AsyncOpenAI]:
        import openai

        return openai.AsyncOpenAI

    def _client_options(self) -> dict[str, Any]:
        has_other_credentials = bool(_OTHER_CREDENTIALS & self.client_params.keys())
        if not (self.api_key or os.environ.get("OPENAI_API_KEY") or has_other_credentials):
            raise ModelAuthenticationError(
                f"{self.label}: no OpenAI API key; pass api_key=... or set OPENAI_API_KEY "
                f"(an OpenAI-compatible server that needs no key takes any placeholder)"
            )
        return super()._client_options()  # without base_url the SDK reads OPENAI_BASE_URL

    def _client_error(self, exc: Exception) -> Exception:
        import openai

        if isinstance(exc, openai.OpenAIError):
            cls = ModelAuthenticationError if "credential" in str(exc).lower() else ModelError
            return cls(f"{self.label}: cannot make the OpenAI client: {exc}")
        return super()._client_error(exc)

    def _request_params(self, *, streaming: bool) -> Iterable[tuple[str, Any]]:
        # The API refuses stream_options on a plain request.
        return (
            (k, v) for k, v in self.request_params.items() if streaming or k != "stream_options"
        )

    def _translate(self, exc: BaseException) -> ModelError:
        import openai

        message = provider_message(exc)
        cls = sdk_error_class(exc, openai)
        if cls is ModelConnectionError:
            cause = exc.__cause__
            if cause is not None and str(cause):
                message = f"{message} ({type(cause).__name__}: {_reason(cause)})"
        elif cls is None and isinstance(exc, openai.APIError):  # an error event inside a stream
            cls = _CODES.get(exc.code or exc.type or "", ModelServerError)
        status = getattr(exc, "status_code", None)
        return model_error(cls or ModelError, self.label, message, status=status, cause=exc)


def decode_arguments(call_id: str, name: str, raw: str | None) -> ToolCall:
    """A tool call from the model's JSON argument text; bad JSON is kept raw for the agent."""
    text = raw or ""
    try:
        decoded = json.loads(text) if text.strip() else {}
    except ValueError:
        decoded = None
    if isinstance(decoded, dict):
        return ToolCall(id=call_id, name=name, arguments=decoded)
    return ToolCall(id=call_id, name=name, arguments={}, raw_arguments=text)


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
