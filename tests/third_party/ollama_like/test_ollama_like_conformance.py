"""The third-party ``ollama-like`` provider, written from the provider guide alone, passes
the sync, async and per-loop-client suites declaring only what it has (streaming): no
xfail, no response ID, no tool-call IDs, no key, no retries."""

from __future__ import annotations

import asyncio

import pytest
from ollama_harness import OllamaHarness
from sessionary_ollama_like import OllamaLike

from sessionary import Agent
from sessionary.errors import ModelNotFoundError
from sessionary.testing import (
    AsyncModelProviderConformance,
    LoopClientsConformance,
    ModelProviderConformance,
    ProviderCapability,
    ProviderHarness,
)
from sessionary.testing.provider_harness import ErrorKind


class TestOllamaLike(
    ModelProviderConformance, AsyncModelProviderConformance, LoopClientsConformance
):
    capabilities = frozenset({ProviderCapability.STREAMING})

    @pytest.fixture
    def harness(self, ollama_fake: OllamaHarness) -> ProviderHarness:
        harness: ProviderHarness = ollama_fake
        return harness


def test_an_unknown_model_is_a_model_not_found_error(ollama_fake: OllamaHarness) -> None:
    ollama_fake.reply_error(ErrorKind.NOT_FOUND, "model 'llama9' not found")
    ollama_fake.reply_error(ErrorKind.NOT_FOUND, "model 'llama9' not found")
    model = ollama_fake.make_model()
    assert isinstance(model, OllamaLike)
    with pytest.raises(ModelNotFoundError, match="llama9"):
        Agent(model=model, db="memory://").run("Hello")
    with pytest.raises(ModelNotFoundError, match="llama9"):
        asyncio.run(Agent(model=model, db="memory://").arun("Hello"))
