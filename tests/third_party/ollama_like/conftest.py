"""The ``ollama_fake`` fixture: the third-party provider's harness, its server started."""

from __future__ import annotations

import types
from collections.abc import Iterator

import pytest
import sessionary_ollama_like
from ollama_harness import OllamaHarness

from sessionary.plugins.manager import get_plugin_host, reset_plugin_host


@pytest.fixture
def ollama_fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[OllamaHarness]:
    """The harness, its server started, ``ollama-like`` registered through its hook."""
    monkeypatch.delenv("OLLAMA_HOST", raising=False)
    plugin = types.ModuleType("sessionary_ollama_like_plugin")
    plugin.sessionary_model_providers = sessionary_ollama_like.sessionary_model_providers  # type: ignore[attr-defined]
    reset_plugin_host()
    get_plugin_host().pm.register(plugin, name="ollama-like")
    harness = OllamaHarness()
    harness.server.start()
    try:
        yield harness
    finally:
        harness.server.stop()
        reset_plugin_host()
