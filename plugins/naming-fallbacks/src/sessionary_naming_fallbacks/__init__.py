"""Naming fallbacks for Sessionary: offline names when the model cannot name a session.

Installed, they propose in this order when the naming model fails or is rejected:
``keywords`` (the conversation's most used topic words), ``ticket`` (a ticket ID from
the session's metadata), ``first-message`` (the first user message, shortened) and
``untitled`` (``"Untitled 2026-11-25"``). Their proposals pass the same guardrails.
"""

from __future__ import annotations

from sessionary_naming_fallbacks.keywords import KeywordFallback
from sessionary_naming_fallbacks.simple import (
    FirstMessageFallback,
    TicketFallback,
    UntitledFallback,
)

__all__ = ["FirstMessageFallback", "KeywordFallback", "TicketFallback", "UntitledFallback"]
