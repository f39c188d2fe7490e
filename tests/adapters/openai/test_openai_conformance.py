"""Both OpenAI providers pass the provider conformance suite against the local fake server."""

from __future__ import annotations

import pytest

from sessionary.testing import ModelProviderConformance
from sessionary.testing.models import ProviderHarness


class TestOpenAIResponsesConformance(ModelProviderConformance):
    @pytest.fixture
    def harness(self, responses_fake: ProviderHarness) -> ProviderHarness:
        return responses_fake


class TestOpenAIChatConformance(ModelProviderConformance):
    @pytest.fixture
    def harness(self, chat_fake: ProviderHarness) -> ProviderHarness:
        return chat_fake
