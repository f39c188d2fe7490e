"""What both OpenAI providers share: the ``openai`` SDK's clients, credentials and errors.

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
from sessionary.errors import ModelAuthenticationError, ModelError
from sessionary.models.provider import SDKModel
from sessionary_openai.errors import translate

if TYPE_CHECKING:
    import openai

__all__ = ["OpenAIBase", "decode_arguments"]

#: Client options that supply credentials other than an API key.
_OTHER_CREDENTIALS = frozenset({"workload_identity", "admin_api_key", "provider"})


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
        return translate(exc, self.label)


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
