"""sessionary-naming-fallbacks passes the naming-policy conformance suite."""

from __future__ import annotations

import sessionary_naming_fallbacks.plugin

from sessionary.testing import NamingPolicyConformance


class TestNamingFallbacks(NamingPolicyConformance):
    plugin = sessionary_naming_fallbacks.plugin
    entry_point = "naming-fallbacks"
