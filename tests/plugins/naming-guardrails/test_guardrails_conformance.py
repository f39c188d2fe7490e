"""sessionary-naming-guardrails passes the naming-policy conformance suite."""

from __future__ import annotations

import sessionary_naming_guardrails.plugin

from sessionary.testing import NamingPolicyConformance


class TestNamingGuardrails(NamingPolicyConformance):
    plugin = sessionary_naming_guardrails.plugin
    entry_point = "naming-guardrails"
