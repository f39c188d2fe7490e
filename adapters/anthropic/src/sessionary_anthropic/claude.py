"""``Claude``: Anthropic models on the Messages API (``POST /v1/messages``)."""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from sessionary.domain.messages import Message, Role
from sessionary.errors import (
    InvalidInputError,
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)
from sessionary.models.base import ModelRequest, ModelResponse
from sessionary.models.failures import model_error, provider_message, sdk_error_class
from sessionary.models.provider import SDKModel, preview
from sessionary_anthropic.convert import (
    THINKING_KEY,
    StreamState,
    parse_blocks,
    request_body,
    usage_of,
)

if TYPE_CHECKING:
    import anthropic

__all__ = ["Claude"]

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


class Claude(SDKModel["anthropic.Anthropic", "anthropic.AsyncAnthropic"]):
    """An Anthropic model on the Messages API, through the official ``anthropic`` SDK.

    ``api_key`` and ``base_url`` default to the SDK's ``ANTHROPIC_API_KEY`` and
    ``ANTHROPIC_BASE_URL`` (and its other credential sources); ``timeout`` (seconds)
    and ``max_retries`` go to the SDK client, whose retries are the ones used.
    ``max_tokens`` bounds each answer (the API requires it). ``request_params`` are
    added to every request (``{"temperature": 0.2}``); names the SDK does not know
    travel in ``extra_body``. ``client_params`` go to ``anthropic.Anthropic``.

    The async calls (``arespond``, ``astream``) run on ``anthropic.AsyncAnthropic`` with
    the same options, one client per running event loop (see :meth:`async_client`).

    >>> Claude(id="claude-sonnet-4-5").label
    'anthropic:claude-sonnet-4-5'
    """

    provider: ClassVar[str] = "anthropic"
    reserved_params: ClassVar[frozenset[str]] = frozenset(
        {"model", "messages", "system", "stream", "max_tokens"}
    )
    reserved_reason: ClassVar[str] = "the agent sets them; max_tokens is an argument of its own"

    def __init__(
        self,
        id: str,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: float | None = None,
        max_retries: int | None = None,
        max_tokens: int = 8192,
        request_params: Mapping[str, Any] | None = None,
        client_params: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(
            id,
            api_key=api_key,
            base_url=base_url,  # without it the SDK reads ANTHROPIC_BASE_URL
            timeout=timeout,
            max_retries=max_retries,
            request_params=request_params,
            client_params=client_params,
        )
        if isinstance(max_tokens, bool) or not isinstance(max_tokens, int) or max_tokens < 1:
            raise InvalidInputError(f"{type(self).__name__}: max_tokens must be a positive int")
        self.max_tokens = max_tokens

    # ------------------------------------------------------------------ the SDK

    def _sync_client_class(self) -> type[anthropic.Anthropic]:
        import anthropic

        return anthropic.Anthropic

    def _async_client_class(self) -> type[anthropic.AsyncAnthropic]:
        import anthropic

        return anthropic.AsyncAnthropic

    def _check_client(self, client: anthropic.Anthropic | anthropic.AsyncAnthropic) -> None:
        if not (client.api_key or client.auth_token or client.credentials):
            raise ModelAuthenticationError(
                f"{self.label}: no Anthropic API key; pass api_key=... or set ANTHROPIC_API_KEY"
            )

    def _translate(self, exc: BaseException) -> ModelError:
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
            return ModelAuthenticationError(
                f"{self.label}: no Anthropic API key; pass api_key=... or set ANTHROPIC_API_KEY "
                f"(the SDK found no other credentials either: {message})",
                provider_message=message,
            )
        elif cls is None and isinstance(exc, _http_errors("TimeoutException")):
            cls = ModelTimeoutError
        elif cls is None and isinstance(exc, _http_errors("TransportError")):
            cls = ModelConnectionError  # the stream broke while it was read
            message = f"{type(exc).__name__}: {exc}"
        status = getattr(exc, "status_code", None)
        return model_error(cls or ModelError, self.label, message, status=status, cause=exc)

    def _endpoint(
        self, client: anthropic.Anthropic | anthropic.AsyncAnthropic
    ) -> Callable[..., Any]:
        return client.messages.create

    def _answer_type(self) -> type[Any]:
        import anthropic

        return anthropic.types.Message

    # ------------------------------------------------------------------ the Messages API

    def _body(self, request: ModelRequest) -> dict[str, Any]:
        return request_body(self.id, self.max_tokens, request)

    def _fold(self) -> _ClaudeFold:
        return _ClaudeFold(self)

    def _parse(self, message: Any) -> ModelResponse:
        try:
            blocks = message.content
            message_id = message.id
            if not isinstance(message_id, str) or not isinstance(blocks, list):
                raise TypeError("no id or no content list")
            content, calls, thinking = parse_blocks(blocks)
        except Exception as exc:
            raise ModelResponseError(
                f"{self.label}: the server's answer is not a Messages API message "
                f"({type(exc).__name__}: {exc}): {preview(message)}"
            ) from exc
        return self._build(
            message_id,
            getattr(message, "model", None),
            (content, calls, thinking),
            usage=getattr(message, "usage", None),
            stop_reason=getattr(message, "stop_reason", None),
        )

    def _finish(self, state: StreamState) -> ModelResponse:
        if not state.stopped or state.message_id is None:
            raise ModelResponseError(f"{self.label}: the stream ended before the message stopped")
        return self._build(
            state.message_id,
            state.model,
            parse_blocks(state.content_blocks()),
            usage=state.usage,
            stop_reason=state.stop_reason,
        )

    def _build(
        self,
        message_id: str,
        model: Any,
        parsed: tuple[str | None, tuple[Any, ...], list[dict[str, Any]]],
        *,
        usage: Any,
        stop_reason: Any,
    ) -> ModelResponse:
        content, calls, thinking = parsed
        metadata: dict[str, Any] = {"response_id": message_id}
        if isinstance(model, str):
            metadata["model"] = model
        if isinstance(stop_reason, str):
            metadata["stop_reason"] = stop_reason
        if thinking:
            metadata[THINKING_KEY] = thinking
        message = Message(role=Role.ASSISTANT, content=content, tool_calls=calls, metadata=metadata)
        return ModelResponse(message=message, usage=usage_of(usage), response_id=message_id)


class _ClaudeFold:
    """The events of one streamed message, folded into its response."""

    def __init__(self, model: Claude) -> None:
        self.model = model
        self.state = StreamState()

    def add(self, event: Any) -> str:
        return self.state.add(event)

    def finish(self) -> ModelResponse:
        return self.model._finish(self.state)


def _http_errors(name: str) -> tuple[type[BaseException], ...]:
    """The exception class ``name`` of each HTTP library the SDK may be on."""
    found = []
    for module in ("httpx2", "httpx"):
        try:
            found.append(getattr(importlib.import_module(module), name))
        except ImportError:
            continue
    return tuple(found)
