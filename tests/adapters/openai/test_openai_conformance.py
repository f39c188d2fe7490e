"""Both OpenAI providers pass the provider conformance suites (sync, async, one client per
loop) against the local fake server."""

from __future__ import annotations

import pytest

from sessionary.testing import ModelProviderConformance
from sessionary.testing.async_models import AsyncModelProviderConformance
from sessionary.testing.loop_clients import LoopClientsConformance
from sessionary.testing.models import ALL_CAPABILITIES, ProviderHarness


class TestOpenAIResponsesConformance(
    ModelProviderConformance, AsyncModelProviderConformance, LoopClientsConformance
):
    capabilities = ALL_CAPABILITIES

    @pytest.fixture
    def harness(self, responses_fake: ProviderHarness) -> ProviderHarness:
        return responses_fake


class TestOpenAIChatConformance(
    ModelProviderConformance, AsyncModelProviderConformance, LoopClientsConformance
):
    capabilities = ALL_CAPABILITIES

    @pytest.fixture
    def harness(self, chat_fake: ProviderHarness) -> ProviderHarness:
        return chat_fake
