"""The sessionary-naming-fallbacks plugin: registers its classes through the sessionary hooks."""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import hookimpl
from sessionary.naming import NamingFallback
from sessionary_naming_fallbacks.keywords import KeywordFallback
from sessionary_naming_fallbacks.simple import (
    FirstMessageFallback,
    TicketFallback,
    UntitledFallback,
)

__all__ = ["sessionary_naming_fallbacks"]


@hookimpl
def sessionary_naming_fallbacks() -> Sequence[type[NamingFallback]]:
    """keywords, ticket, first-message and untitled, in that order."""
    return [KeywordFallback, TicketFallback, FirstMessageFallback, UntitledFallback]
