"""Claude passes the provider conformance suites (sync, async, one client per loop) against
the local fake server."""

from __future__ import annotations

import pytest

from sessionary.testing import ModelProviderConformance
from sessionary.testing.async_models import AsyncModelProviderConformance
from sessionary.testing.loop_clients import LoopClientsConformance
from sessionary.testing.models import ALL_CAPABILITIES, ProviderHarness


class TestClaudeConformance(
    ModelProviderConformance, AsyncModelProviderConformance, LoopClientsConformance
):
    capabilities = ALL_CAPABILITIES

    @pytest.fixture
    def harness(self, claude_fake: ProviderHarness) -> ProviderHarness:
        return claude_fake
