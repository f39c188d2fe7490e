"""The naming-policy contract: guardrails check or clean a name, fallbacks propose one."""

from __future__ import annotations

import abc
from typing import Any, ClassVar

import attrs

from sessionary.domain.messages import Message
from sessionary.domain.sessions import SessionInfo

__all__ = ["NameRejected", "NamingContext", "NamingFallback", "NamingGuardrail"]


class NameRejected(Exception):
    """Raised by a guardrail that refuses a proposed name; the message says why."""


@attrs.frozen(kw_only=True)
class NamingContext:
    """What a naming policy may look at: the session's summary and its first messages."""

    session: SessionInfo
    messages: tuple[Message, ...] = attrs.field(default=(), converter=tuple)
    #: When the name is being decided (epoch seconds), for dated fallbacks.
    now: float = 0.0


class NamingGuardrail(abc.ABC):
    """Checks a proposed name: returns it (possibly cleaned) or raises :class:`NameRejected`."""

    #: Registry name of the guardrail.
    name: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def check(self, proposal: str, context: NamingContext) -> str:
        """Return the name to keep, or raise :class:`NameRejected` saying why not."""


class NamingFallback(abc.ABC):
    """Proposes a name when the model cannot; ``None`` when it has nothing to offer."""

    #: Registry name of the fallback; also recorded as the name's source.
    name: ClassVar[str]

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def propose(self, context: NamingContext) -> str | None:
        """A proposed name for the session, or ``None``."""
