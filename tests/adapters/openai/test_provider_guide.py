"""The model-provider guide's code runs as shown: TinyChat passes the conformance suite.

The guide's provider, registration and conformance subclass are executed from the page;
the subclass (with its declared xfails) is collected here and runs against the fake
Chat Completions server, registered through a real plugin hook.
"""

from __future__ import annotations

import re
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fake_provider import FakeProvider

from sessionary.models.base import Model
from sessionary.plugins.manager import get_plugin_host, reset_plugin_host
from sessionary.testing.models import ProviderHarness

PAGE = Path(__file__).resolve().parents[3] / "docs" / "guides" / "writing-a-model-provider.md"
BLOCKS = re.findall(r"^```python\n(.*?)^```", PAGE.read_text(), re.S | re.M)
GUIDE: dict[str, Any] = {"__name__": "docs_writing_a_model_provider"}
for _block in BLOCKS:
    exec(compile(_block, PAGE.name, "exec"), GUIDE)

TinyChat: type[Model] = GUIDE["TinyChat"]
#: The guide's conformance subclass, collected by pytest from this module.
TestTinyChat = GUIDE["TestTinyChat"]


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
    # The Chat Completions fake, driving TinyChat instead of OpenAIChat.
    assert isinstance(chat_fake, FakeProvider)
    chat_fake.model_class = TinyChat
    chat_fake.model_name = "tinychat:gpt-5.2"
    chat_fake.api_key = "sk-tiny"
    chat_fake.takes_max_retries = False  # TinyChat never retries
    try:
        yield chat_fake
    finally:
        reset_plugin_host()


def test_the_guide_shows_a_complete_provider() -> None:
    assert TinyChat.provider == "tinychat"
    assert issubclass(TinyChat, Model)
    assert GUIDE["sessionary_model_providers"]() == [TinyChat]
