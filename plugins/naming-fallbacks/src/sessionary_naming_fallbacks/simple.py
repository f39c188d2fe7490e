"""The ``ticket``, ``first-message`` and ``untitled`` fallbacks."""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Sequence
from typing import Any, ClassVar

from sessionary.domain.messages import Role
from sessionary.naming import NamingContext, NamingFallback, positive_int

__all__ = ["FirstMessageFallback", "TicketFallback", "UntitledFallback"]

_TICKET = re.compile(r"^[A-Za-z0-9#][A-Za-z0-9._#/:-]{0,63}$")


class TicketFallback(NamingFallback):
    """Names the session after the ticket its metadata links it to: ``"Ticket SUP-1234"``.

    Looks up ``keys`` in the session's metadata, in order; a value that is not a short
    ticket-like string or number is ignored. ``template`` formats the name.
    """

    name: ClassVar[str] = "ticket"
    order: ClassVar[int] = 20

    DEFAULT_KEYS: ClassVar[tuple[str, ...]] = (
        "ticket_id",
        "ticket",
        "ticket_number",
        "issue_id",
        "case_id",
        "external_id",
    )

    def __init__(
        self,
        *,
        keys: Sequence[str] = DEFAULT_KEYS,
        template: str = "Ticket {ticket}",
        **options: Any,
    ) -> None:
        super().__init__(keys=keys, template=template, **options)
        if isinstance(keys, str) or not all(isinstance(k, str) for k in keys):
            raise ValueError("keys must be a list of metadata keys")
        if not isinstance(template, str) or "{ticket}" not in template:
            raise ValueError("template must be a str containing {ticket}")
        self.keys = tuple(keys)
        self.template = template

    def propose(self, context: NamingContext) -> str | None:
        """The template filled with the first ticket-like metadata value, or ``None``."""
        metadata = context.session.metadata
        for key in self.keys:
            value = metadata.get(key)
            if isinstance(value, bool) or not isinstance(value, (str, int)):
                continue
            ticket = str(value).strip()
            if _TICKET.match(ticket):
                return self.template.replace("{ticket}", ticket)
        return None


class FirstMessageFallback(NamingFallback):
    """The first user message, its first line cut to ``max_words`` (5) words."""

    name: ClassVar[str] = "first-message"
    order: ClassVar[int] = 30

    def __init__(self, *, max_words: int = 5, **options: Any) -> None:
        super().__init__(max_words=max_words, **options)
        self.max_words = positive_int(max_words, "max_words")

    def propose(self, context: NamingContext) -> str | None:
        """The shortened first user message, or ``None`` if there is none."""
        for message in context.messages:
            if message.role is not Role.USER or not message.content:
                continue
            for line in message.content.splitlines():
                words = line.split()
                if words:
                    return " ".join(words[: self.max_words])
        return None


class UntitledFallback(NamingFallback):
    """``"Untitled 2026-11-25"``: always proposes, dated (UTC) when the name is decided."""

    name: ClassVar[str] = "untitled"
    order: ClassVar[int] = 90

    def __init__(self, *, label: str = "Untitled", **options: Any) -> None:
        super().__init__(label=label, **options)
        if not isinstance(label, str) or not label.strip():
            raise ValueError("label must be a non-empty str")
        self.label = label.strip()

    def propose(self, context: NamingContext) -> str | None:
        """The label and the date of ``context.now`` (of now, if that is unset)."""
        when = context.now or time.time()
        day = dt.datetime.fromtimestamp(when, tz=dt.timezone.utc).date().isoformat()
        return f"{self.label} {day}"
