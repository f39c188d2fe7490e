"""The naming-policy contract: guardrails check or clean a name, fallbacks propose one.

A plugin contributes policies through the ``sessionary_naming_guardrails`` and
``sessionary_naming_fallbacks`` hooks; each class has a registry ``name`` and an
``order`` that places it in the default pipeline (lower runs first).
"""

from __future__ import annotations

import abc
from collections.abc import Iterable
from typing import Any, ClassVar

import attrs

from sessionary.domain.messages import Message
from sessionary.domain.sessions import SessionInfo
from sessionary.errors import InvalidInputError, PluginError, SessionaryError

__all__ = [
    "MANUAL",
    "MODEL",
    "InvalidNameError",
    "NameRejected",
    "NamingContext",
    "NamingError",
    "NamingFallback",
    "NamingGuardrail",
    "NamingPluginError",
    "positive_int",
]

#: ``name_source`` of a name a person set.
MANUAL = "manual"
#: ``name_source`` of a name the naming model generated.
MODEL = "model"


def positive_int(value: Any, what: str) -> int:
    """``value`` if it is an int of 1 or more, else a ``ValueError`` naming ``what``.

    For a policy's options, checked in its constructor:

    >>> positive_int(3, "max_words")
    3
    >>> positive_int(True, "max_words")
    Traceback (most recent call last):
    ...
    ValueError: max_words must be a positive int, got True
    """
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"{what} must be a positive int, got {value!r}")
    return value


class NameRejected(Exception):
    """Raised by a guardrail that refuses a proposed name; the message says why."""


class InvalidNameError(InvalidInputError):
    """A name given to ``set_session_name`` was refused by a guardrail; nothing was stored."""


class NamingError(SessionaryError):
    """Strict naming could not produce a model-generated name; the cause is chained."""


class NamingPluginError(PluginError):
    """A guardrail or fallback failed with something other than :class:`NameRejected`.

    A bug in a plugin, not a verdict on the name: the message names the policy and the
    plugin that registered it, and the plugin's exception is chained (``__cause__``)
    with its traceback. A guardrail that fails stops the pipeline (no name it could not
    check is stored); a fallback that fails is skipped.
    """

    def __init__(self, message: str, *, policy: str, plugin: str | None) -> None:
        super().__init__(message)
        #: The registry name of the guardrail or fallback that failed.
        self.policy = policy
        #: The plugin (entry point) that registered it; ``None`` when it was passed by hand.
        self.plugin = plugin


def _messages(value: Iterable[Message]) -> tuple[Message, ...]:
    return value if type(value) is tuple else tuple(value)


@attrs.frozen(kw_only=True)
class NamingContext:
    """What a naming policy may look at: the session's summary and its first messages.

    ``session`` is a :class:`~sessionary.domain.sessions.SessionInfo`, the summary
    (``session.metadata`` is the session's metadata dict); ``messages`` are the first
    user and assistant messages of the session, as many as the naming policy allows (6
    by default), never the whole transcript.
    """

    session: SessionInfo
    messages: tuple[Message, ...] = attrs.field(default=(), converter=_messages)
    #: When the name is being decided (epoch seconds), for dated fallbacks.
    now: float = 0.0
    #: Who proposed the name being checked: ``"manual"`` (:data:`MANUAL`), ``"model"``
    #: (:data:`MODEL`) or a fallback's registry name (``"keywords"``), a ``str``.
    source: str = MODEL


class NamingGuardrail(abc.ABC):
    """Checks a proposed name: returns it (possibly cleaned) or raises :class:`NameRejected`.

    A guardrail never adds text of its own, returns the same answer for the same input,
    and may be called from several threads at once.
    """

    #: Registry name of the guardrail.
    name: ClassVar[str]
    #: Place in the default pipeline; lower runs first.
    order: ClassVar[int] = 100

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def check(self, proposal: str, context: NamingContext) -> str:
        """Return the name to keep, or raise :class:`NameRejected` saying why not."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"


class NamingFallback(abc.ABC):
    """Proposes a name when the model cannot; ``None`` when it has nothing to offer.

    Fallbacks work offline from the context alone; their proposals pass the same
    guardrails as the model's answer.
    """

    #: Registry name of the fallback; also recorded as the name's source.
    name: ClassVar[str]
    #: Place in the default pipeline; lower proposes first.
    order: ClassVar[int] = 100

    def __init__(self, **options: Any) -> None:
        self.options = options

    @abc.abstractmethod
    def propose(self, context: NamingContext) -> str | None:
        """A proposed name for the session, or ``None``."""

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.name!r})"
