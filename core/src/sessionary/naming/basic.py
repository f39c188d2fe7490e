"""The minimal naming policy the core always applies, with or without naming plugins.

Whatever the configured pipeline, every name (manual, model or fallback) ends with
:class:`BasicGuardrail`: control and invisible formatting characters are removed, any
run of whitespace (newlines included) becomes one space, and an empty or overlong
name is dealt with. No name is ever stored raw.
"""

from __future__ import annotations

import unicodedata
from typing import Any, ClassVar

from sessionary.naming.policy import NameRejected, NamingContext, NamingGuardrail, positive_int

__all__ = ["MAX_NAME_LENGTH", "BasicGuardrail", "clean_text", "shorten"]

#: The longest name the core stores, whatever the plugins allow.
MAX_NAME_LENGTH = 200

#: Invisible characters that carry meaning in some scripts (Persian, emoji sequences).
_KEPT_FORMAT = {"\u200c", "\u200d"}


def clean_text(text: str) -> str:
    """``text`` on one line: control and invisible format characters gone, spaces single.

    >>> clean_text("  Launch\\nplan\\x00 \\u202e ")
    'Launch plan'
    """
    kept: list[str] = []
    for ch in text:
        if ch.isspace():
            kept.append(" ")
            continue
        category = unicodedata.category(ch)
        if category in ("Cc", "Cs", "Co", "Cn", "Zl", "Zp"):
            continue
        if category == "Cf" and ch not in _KEPT_FORMAT:
            continue  # bidi overrides, zero-width spaces, soft hyphens: never in a name
        kept.append(ch)
    return " ".join("".join(kept).split())


def shorten(text: str, max_chars: int) -> str:
    """``text`` cut to ``max_chars`` at a word boundary when there is one.

    >>> shorten("Quarterly planning for the sales team", 20)
    'Quarterly planning'
    """
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1]
    space = cut.rfind(" ")
    if space > 0:
        return cut[:space].rstrip()
    return text[:max_chars].rstrip()


class BasicGuardrail(NamingGuardrail):
    """One line, printable, non-empty, at most ``max_chars`` (200) characters.

    The core runs it last in every pipeline; it is registered as the built-in
    guardrail ``basic``.

    >>> from sessionary.domain.sessions import SessionInfo
    >>> context = NamingContext(session=SessionInfo(session_id="s1"))
    >>> BasicGuardrail().check("Trip\\r\\nto Lisbon\\t", context)
    'Trip to Lisbon'
    """

    name: ClassVar[str] = "basic"
    order: ClassVar[int] = 1000

    def __init__(self, *, max_chars: int = MAX_NAME_LENGTH, **options: Any) -> None:
        super().__init__(max_chars=max_chars, **options)
        self.max_chars = min(positive_int(max_chars, "max_chars"), MAX_NAME_LENGTH)

    def check(self, proposal: str, context: NamingContext) -> str:
        """The proposal cleaned to one printable line, or :class:`NameRejected` if empty."""
        if not isinstance(proposal, str):
            raise NameRejected(f"a name must be a str, got {type(proposal).__name__}")
        cleaned = shorten(clean_text(proposal), self.max_chars)
        if not cleaned:
            raise NameRejected("the name is empty once control characters and spaces are removed")
        return cleaned
