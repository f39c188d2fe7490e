"""A third-party naming plugin written from docs/guides/naming.md alone.

``strip-reply`` removes "Re:"/"Fwd:" prefixes (placed before the built-in ``clean``,
order 10), ``ticket-words`` rejects blocklisted words (after ``blocklist``, order 40),
and ``support-ticket`` proposes "Ticket <id>" from the session's ``zendesk_id`` metadata
(before the built-in ``keywords``, order 10). A test fixture of this repository (in no
wheel); its tests are in tests/third_party/naming_tickets.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from typing import Any, ClassVar

from sessionary import hookimpl
from sessionary.naming import NameRejected, NamingContext, NamingFallback, NamingGuardrail

_REPLY = re.compile(r"^(?:\s*(?:re|fwd?|aw|wg)\s*(?:\[\d+\])?\s*:\s*)+", re.IGNORECASE)
_TICKET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,31}$")


class StripReplyPrefixes(NamingGuardrail):
    """Removes "Re:", "Fwd:", "Fw:" (and "AW:", "WG:") from the start of a name."""

    name: ClassVar[str] = "strip-reply"
    order: ClassVar[int] = 5

    def check(self, proposal: str, context: NamingContext) -> str:
        """The name without its reply prefixes; rejected if nothing else is left."""
        stripped = _REPLY.sub("", proposal)
        if stripped == proposal:
            return proposal
        if not stripped.strip():
            raise NameRejected("nothing is left once Re:/Fwd: are removed")
        return stripped.strip()


class TicketWords(NamingGuardrail):
    """Rejects names with a blocked word (whole words, any case): internal jargon."""

    name: ClassVar[str] = "ticket-words"
    order: ClassVar[int] = 45

    def __init__(self, *, words: Iterable[str] = ("escalation", "p0", "legal"), **options: Any):
        super().__init__(words=words, **options)
        chosen = [w.strip().casefold() for w in words]
        if not chosen or not all(chosen):
            raise ValueError("words must be non-empty strings")
        self.words = frozenset(chosen)

    def check(self, proposal: str, context: NamingContext) -> str:
        """The name unchanged, or :class:`NameRejected` naming no word (it may be private)."""
        found = {w.casefold() for w in re.findall(r"\w+", proposal)}
        if found & self.words:
            raise NameRejected("the name contains a blocked word")
        return proposal


class SupportTicket(NamingFallback):
    """``"Ticket 4711"`` from the session's ``zendesk_id`` metadata."""

    name: ClassVar[str] = "support-ticket"
    order: ClassVar[int] = 5

    def __init__(self, *, keys: Sequence[str] = ("zendesk_id",), **options: Any) -> None:
        super().__init__(keys=keys, **options)
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise ValueError("keys must be a list of metadata keys")
        self.keys = tuple(keys)

    def propose(self, context: NamingContext) -> str | None:
        """``Ticket <id>`` for the first ticket-like value, else ``None``."""
        for key in self.keys:
            value = context.session.metadata.get(key)
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                continue
            ticket = str(value).strip()
            if _TICKET.match(ticket):
                return f"Ticket {ticket}"
        return None


@hookimpl
def sessionary_naming_guardrails() -> list[type[NamingGuardrail]]:
    """strip-reply and ticket-words."""
    return [StripReplyPrefixes, TicketWords]


@hookimpl
def sessionary_naming_fallbacks() -> list[type[NamingFallback]]:
    """support-ticket."""
    return [SupportTicket]
