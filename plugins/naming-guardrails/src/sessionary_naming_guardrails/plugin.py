"""The sessionary-naming-guardrails plugin: registers its classes through the sessionary hooks."""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import hookimpl
from sessionary.naming import NamingGuardrail
from sessionary_naming_guardrails.cleaning import CleanGuardrail, LengthGuardrail
from sessionary_naming_guardrails.screening import (
    BlocklistGuardrail,
    LabelOnlyGuardrail,
    PiiGuardrail,
)

__all__ = ["sessionary_naming_guardrails"]


@hookimpl
def sessionary_naming_guardrails() -> Sequence[type[NamingGuardrail]]:
    """clean, label-only, pii, blocklist and length, in that order."""
    return [CleanGuardrail, LabelOnlyGuardrail, PiiGuardrail, BlocklistGuardrail, LengthGuardrail]
