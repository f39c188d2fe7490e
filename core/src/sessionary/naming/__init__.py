"""Session naming: the policy contract, the pipeline, and naming sessions in a store.

Import names from here; the submodules load on first use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from sessionary.naming.policy import (
    MANUAL,
    MODEL,
    InvalidNameError,
    NameRejected,
    NamingContext,
    NamingError,
    NamingFallback,
    NamingGuardrail,
    NamingPluginError,
    positive_int,
)

_LAZY = {
    "BasicGuardrail": "sessionary.naming.basic",
    "NamingPolicy": "sessionary.naming.pipeline",
    "NamingPipeline": "sessionary.naming.pipeline",
    "default_policy": "sessionary.naming.pipeline",
    "set_default_policy": "sessionary.naming.pipeline",
    "NameDecision": "sessionary.naming.namer",
    "decide_name": "sessionary.naming.namer",
    "naming_request": "sessionary.naming.namer",
    "AutonameOutcome": "sessionary.naming.service",
    "autoname_session": "sessionary.naming.service",
    "rename_session": "sessionary.naming.service",
    "BatchReport": "sessionary.naming.batch",
    "autoname_many": "sessionary.naming.batch",
    "find_candidates": "sessionary.naming.batch",
}

__all__ = [
    "MANUAL",
    "MODEL",
    "AutonameOutcome",
    "BasicGuardrail",
    "BatchReport",
    "InvalidNameError",
    "NameDecision",
    "NameRejected",
    "NamingContext",
    "NamingError",
    "NamingFallback",
    "NamingGuardrail",
    "NamingPipeline",
    "NamingPluginError",
    "NamingPolicy",
    "autoname_many",
    "autoname_session",
    "decide_name",
    "default_policy",
    "find_candidates",
    "naming_request",
    "positive_int",
    "rename_session",
    "set_default_policy",
]


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'sessionary.naming' has no attribute {name!r}")
    return getattr(importlib.import_module(module), name)


if TYPE_CHECKING:
    from sessionary.naming.basic import BasicGuardrail
    from sessionary.naming.batch import BatchReport, autoname_many, find_candidates
    from sessionary.naming.namer import NameDecision, decide_name, naming_request
    from sessionary.naming.pipeline import (
        NamingPipeline,
        NamingPolicy,
        default_policy,
        set_default_policy,
    )
    from sessionary.naming.service import AutonameOutcome, autoname_session, rename_session
