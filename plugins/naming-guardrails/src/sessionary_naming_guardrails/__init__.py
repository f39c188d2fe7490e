"""Naming guardrails for Sessionary: clean, bound and de-identify session names.

Installed, they join the default naming pipeline in this order: ``clean`` (quotes,
markdown, "Title:" prefixes, one line), ``label-only`` (refusals, instructions and
prose rejected), ``pii`` (e-mail, phone, card and IP addresses removed), ``blocklist``
and ``length`` (at most 5 words and 60 characters).
"""

from __future__ import annotations

from sessionary_naming_guardrails.cleaning import CleanGuardrail, LengthGuardrail
from sessionary_naming_guardrails.screening import (
    DEFAULT_BLOCKLIST,
    BlocklistGuardrail,
    LabelOnlyGuardrail,
    PiiGuardrail,
)

__all__ = [
    "DEFAULT_BLOCKLIST",
    "BlocklistGuardrail",
    "CleanGuardrail",
    "LabelOnlyGuardrail",
    "LengthGuardrail",
    "PiiGuardrail",
]
