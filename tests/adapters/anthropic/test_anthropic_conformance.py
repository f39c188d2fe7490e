"""Claude passes the provider conformance suites (sync and async) against the local fake server."""

from __future__ import annotations

import pytest

from sessionary.testing import ModelProviderConformance
from sessionary.testing.async_models import AsyncModelProviderConformance
from sessionary.testing.models import ProviderHarness


class TestClaudeConformance(ModelProviderConformance, AsyncModelProviderConformance):
    @pytest.fixture
    def harness(self, claude_fake: ProviderHarness) -> ProviderHarness:
        return claude_fake
