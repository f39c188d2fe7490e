"""The model-provider guide's code runs as shown: TinyChat passes the conformance suite.

The guide's provider, registration and conformance subclass are executed from the page;
the subclass (with its declared xfails) is collected here and runs against the fake
Chat Completions server, registered through a real plugin hook.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from sessionary.models.base import Model
from sessionary.plugins.manager import get_plugin_host, reset_plugin_host
from sessionary.testing.fake_http import HTTPReply
from sessionary.testing.models import (
    ErrorKind,
    ProviderHarness,
    ScriptedReply,
    SentRequest,
)

PAGE = Path(__file__).resolve().parents[3] / "docs" / "guides" / "writing-a-model-provider.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.S | re.M)
GUIDE: dict[str, Any] = {"__name__": "docs_writing_a_model_provider"}
for _block in BLOCKS:
    exec(compile(_block, PAGE.name, "exec"), GUIDE)

TinyChat: type[Model] = GUIDE["TinyChat"]
#: The guide's conformance subclass, collected by pytest from this module.
TestTinyChat = GUIDE["TestTinyChat"]


class TinyChatHarness(ProviderHarness):
    """The Chat Completions fake server, driving TinyChat instead of OpenAIChat."""

    model_name = "tinychat:gpt-5.2"

    def __init__(self, inner: ProviderHarness) -> None:
        self.inner = inner
        self.base_url = inner.connection_options()["base_url"]

    def make_model(self, **options: Any) -> Model:
        options.pop("max_retries", None)  # TinyChat never retries
        return TinyChat(id="gpt-5.2", api_key="sk-tiny", base_url=self.base_url, **options)  # type: ignore[call-arg]

    def make_model_without_credentials(self) -> Model:
        return TinyChat(id="gpt-5.2", base_url=self.base_url)  # type: ignore[call-arg]

    def connection_options(self) -> dict[str, Any]:
        return {"api_key": "sk-tiny", "base_url": self.base_url}

    def reply_text(
        self,
        text: str,
        *,
        chunks: Sequence[str] | None = None,
        input_tokens: int = 11,
        output_tokens: int = 7,
    ) -> ScriptedReply:
        return self.inner.reply_text(
            text, chunks=chunks, input_tokens=input_tokens, output_tokens=output_tokens
        )

    def reply_tool_calls(
        self,
        calls: Sequence[tuple[str, Mapping[str, Any]]],
        *,
        input_tokens: int = 13,
        output_tokens: int = 5,
    ) -> ScriptedReply:
        return self.inner.reply_tool_calls(
            calls, input_tokens=input_tokens, output_tokens=output_tokens
        )

    def reply_error(self, kind: ErrorKind, message: str) -> None:
        self.inner.reply_error(kind, message)

    def reply_slowly(self, seconds: float) -> None:
        self.inner.reply_slowly(seconds)

    def reply_malformed(self) -> None:
        self.inner.reply_malformed()

    def reply_broken_stream(self, chunks: Sequence[str]) -> None:
        self.inner.reply_broken_stream(chunks)

    def reply_raw(self, reply: HTTPReply) -> None:
        self.inner.reply_raw(reply)

    def sent(self) -> list[SentRequest]:
        return self.inner.sent()


@pytest.fixture
def tinychat_fake(
    chat_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> Iterator[ProviderHarness]:
    """The guide's harness, with TinyChat registered through the guide's hook."""
    monkeypatch.delenv("TINYCHAT_API_KEY", raising=False)
    monkeypatch.delenv("TINYCHAT_BASE_URL", raising=False)
    plugin = types.ModuleType("sessionary_tinychat_plugin")
    plugin.sessionary_model_providers = GUIDE["sessionary_model_providers"]  # type: ignore[attr-defined]
    reset_plugin_host()
    get_plugin_host().pm.register(plugin, name="tinychat")
    try:
        yield TinyChatHarness(chat_fake)
    finally:
        reset_plugin_host()


def test_the_guide_shows_a_complete_provider() -> None:
    assert TinyChat.provider == "tinychat"
    assert issubclass(TinyChat, Model)
    assert GUIDE["sessionary_model_providers"]() == [TinyChat]
