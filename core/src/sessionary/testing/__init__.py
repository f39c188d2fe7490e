"""Test utilities for applications and plugin authors.

``ScriptedModel`` and ``tool_call`` script a model offline. The conformance suites
(``StorageConformance``) are pytest base classes: subclass one, give it a fixture
that returns your backend, and pytest runs every clause of the contract on it.

A model provider's suites talk to it through a
:class:`~sessionary.testing.provider_harness.ProviderHarness`, which a provider author
builds on :class:`~sessionary.testing.fake_http.FakeHTTPServer`; both are public, as
is :class:`~sessionary.testing.slow_proxy.SlowProxy`, the TCP proxy an async store on a
server is made slow or gated with. The test helpers of this repository's own adapters
(the MongoDB wire mock, server launchers) are in its ``tests/support``, not here.
"""

from __future__ import annotations

import importlib
import sys
from typing import TYPE_CHECKING, Any

from sessionary.models.scripted import ScriptedModel, ScriptedToolCall, tool_call

# The suites import pytest, which an application using ScriptedModel may not have.
_LAZY = {
    "StorageConformance": "sessionary.testing.storage",
    "AsyncStorageConformance": "sessionary.testing.async_storage",
    "AsyncModelProviderConformance": "sessionary.testing.async_models",
    "IoGate": "sessionary.testing.io_gate",
    "LoopClientsConformance": "sessionary.testing.loop_clients",
    "ModelProviderConformance": "sessionary.testing.models",
    "NamingPolicyConformance": "sessionary.testing.naming",
    "ProviderCapability": "sessionary.testing.provider_harness",
    "ProviderHarness": "sessionary.testing.provider_harness",
    "SlowProxy": "sessionary.testing.slow_proxy",
}

#: The modules whose asserts are the conformance clauses.
SUITES = (
    "sessionary.testing.async_models",
    "sessionary.testing.async_storage",
    "sessionary.testing.async_store_checks",
    "sessionary.testing.loop_clients",
    "sessionary.testing.models",
    "sessionary.testing.naming",
    "sessionary.testing.provider_harness",
    "sessionary.testing.storage",
    "sessionary.testing.storage_base",
    "sessionary.testing.storage_conditional",
    "sessionary.testing.storage_data",
    "sessionary.testing.storage_durability",
    "sessionary.testing.storage_import",
    "sessionary.testing.storage_input",
    "sessionary.testing.storage_runs",
    "sessionary.testing.storage_schema",
    "sessionary.testing.storage_sessions",
)
if "pytest" in sys.modules:
    # Under pytest, a failing clause shows what it got and what it expected, as an
    # assert in the plugin's own test file would (pytest rewrites only those otherwise).
    sys.modules["pytest"].register_assert_rewrite(*SUITES)

__all__ = [
    "AsyncModelProviderConformance",
    "AsyncStorageConformance",
    "IoGate",
    "LoopClientsConformance",
    "ModelProviderConformance",
    "NamingPolicyConformance",
    "ProviderCapability",
    "ProviderHarness",
    "ScriptedModel",
    "ScriptedToolCall",
    "SlowProxy",
    "StorageConformance",
    "tool_call",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessionary.testing' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from sessionary.testing.async_models import AsyncModelProviderConformance
    from sessionary.testing.async_storage import AsyncStorageConformance
    from sessionary.testing.io_gate import IoGate
    from sessionary.testing.loop_clients import LoopClientsConformance
    from sessionary.testing.models import ModelProviderConformance
    from sessionary.testing.naming import NamingPolicyConformance
    from sessionary.testing.provider_harness import ProviderCapability, ProviderHarness
    from sessionary.testing.slow_proxy import SlowProxy
    from sessionary.testing.storage import StorageConformance
