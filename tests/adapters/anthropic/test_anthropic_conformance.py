"""Claude passes the provider conformance suite against the local fake server."""

from __future__ import annotations

import pytest

from sessionary.testing import ModelProviderConformance
from sessionary.testing.models import ProviderHarness


class TestClaudeConformance(ModelProviderConformance):
    @pytest.fixture
    def harness(self, claude_fake: ProviderHarness) -> ProviderHarness:
        return claude_fake
