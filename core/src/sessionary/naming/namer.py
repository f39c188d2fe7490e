"""Deciding a name: ask the model, run the guardrails, fall back in order.

Nothing here touches a store: :func:`decide_name` takes a :class:`NamingContext` and
returns a :class:`NameDecision` that says which name won and why the others did not.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

import attrs

from sessionary.domain.messages import Message, Role
from sessionary.domain.sessions import Session
from sessionary.errors import ModelResponseError, ModelTimeoutError
from sessionary.flow import Flow, Respond, run_sync
from sessionary.models.base import Model, ModelRequest, ModelResponse
from sessionary.naming.basic import shorten
from sessionary.naming.pipeline import NamingPipeline, NamingPolicy, plugin_failure
from sessionary.naming.policy import (
    MODEL,
    NameRejected,
    NamingContext,
    NamingError,
    NamingPluginError,
)

__all__ = [
    "Attempt",
    "NameDecision",
    "ask_model",
    "decide_name",
    "decide_name_flow",
    "naming_context",
    "naming_request",
]

log = logging.getLogger("sessionary.naming")


@attrs.frozen
class Attempt:
    """One proposal that did not become the name, and why."""

    #: ``"model"`` or the fallback's name.
    source: str
    #: What was proposed (``None`` when nothing was: the call failed or had nothing).
    proposal: str | None
    reason: str


@attrs.frozen
class NameDecision:
    """The outcome of naming: the name and its source, or ``None`` and the reasons."""

    name: str | None
    source: str | None
    attempts: tuple[Attempt, ...] = ()
    #: Guardrails and fallbacks that failed with a bug of their own (not a rejection),
    #: each naming its plugin, the plugin's exception chained.
    plugin_errors: tuple[NamingPluginError, ...] = ()

    @property
    def model_failure(self) -> str | None:
        """Why the model's answer was not used, if it was asked and not used."""
        for attempt in self.attempts:
            if attempt.source == MODEL:
                return attempt.reason
        return None


def naming_context(session: Session, policy: NamingPolicy, now: float) -> NamingContext:
    """The first ``policy.max_messages`` chat messages, each cut to ``message_chars``."""
    messages: list[Message] = []
    for message in session.get_chat_history():
        if len(messages) >= policy.max_messages:
            break
        content = message.content or ""
        if len(content) > policy.message_chars:
            content = content[: policy.message_chars]
        messages.append(Message(role=message.role, content=content, created_at=message.created_at))
    return NamingContext(session=session.info, messages=messages, now=now)


def _quoted(text: str) -> str:
    # The transcript is data inside tags: it must not be able to close them.
    return text.replace("<conversation", "<\u200bconversation").replace(
        "</conversation", "<\u200b/conversation"
    )


def naming_request(context: NamingContext, policy: NamingPolicy) -> ModelRequest:
    """The request sent to the naming model: a system instruction and the excerpt, no tools.

    The excerpt is the context's messages (the first few user and assistant messages),
    quoted in one user message so the model names the conversation instead of
    continuing it, and so text in it reads as data rather than as instructions.
    """
    lines = [f"{m.role.value}: {_quoted(m.content or '')}" for m in context.messages]
    excerpt = "<conversation>\n" + "\n".join(lines) + "\n</conversation>"
    instruction = policy.instruction.replace("{max_words}", str(policy.max_words))
    return ModelRequest(
        messages=(
            Message(role=Role.SYSTEM, content=instruction),
            Message(role=Role.USER, content=excerpt),
        ),
        tools=(),
    )


def ask_model(model: Model, request: ModelRequest, timeout: float | None) -> str:
    """The model's answer text; raises on an error, a timeout or a malformed answer.

    With a ``timeout`` the call runs in a daemon thread and is abandoned (its answer
    ignored) when it does not finish in time: :class:`~sessionary.errors.ModelTimeoutError`.
    """
    return run_sync(_ask(model, request, timeout))


def _ask(model: Model, request: ModelRequest, timeout: float | None) -> Flow[str]:
    try:
        response: Any = yield Respond(model, request, timeout)
    except ModelTimeoutError:
        raise ModelTimeoutError(
            f"the naming model {model.label} did not answer within {timeout:g} s"
        ) from None
    if not isinstance(response, ModelResponse):
        raise ModelResponseError(
            f"the naming model {model.label} returned {type(response).__name__}, "
            "not a ModelResponse"
        )
    return response.message.content or ""


def _describe(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def decide_name(
    context: NamingContext,
    model: Model | None,
    pipeline: NamingPipeline,
    *,
    strict: bool = False,
) -> NameDecision:
    """Ask the model (if any), guard its answer, else let the fallbacks propose in order.

    The sync form of :func:`decide_name_flow` (the model's ``respond``).
    """
    return run_sync(decide_name_flow(context, model, pipeline, strict=strict))


def decide_name_flow(
    context: NamingContext,
    model: Model | None,
    pipeline: NamingPipeline,
    *,
    strict: bool = False,
) -> Flow[NameDecision]:
    """Ask the model (if any), guard its answer, else let the fallbacks propose in order.

    A session without user or assistant messages is not sent to the model. With
    ``strict``, that, or a model that fails, times out, answers nothing or is rejected by a
    guardrail, raises :class:`~sessionary.naming.policy.NamingError` (the cause chained)
    and no fallback is asked. Otherwise nothing raises: a decision with no name means
    neither the model nor any fallback produced one that passed the guardrails.

    A guardrail that fails with a bug (anything but ``NameRejected``) stops the
    pipeline: no name is decided, and the decision's ``plugin_errors`` holds the
    :class:`~sessionary.naming.policy.NamingPluginError` (raised with ``strict``). A
    fallback that fails is skipped and recorded there too.
    """
    attempts: list[Attempt] = []
    if model is not None and not context.messages:
        # Nothing to read: a model call would only invent a name.
        if strict:
            raise NamingError(
                f"strict naming: session {context.session.session_id!r} has no user or "
                "assistant message to name it from"
            )
        attempts.append(Attempt(MODEL, None, "no user or assistant message to name from"))
    elif model is not None:
        request = naming_request(context, pipeline.policy)
        raw: str | None = None
        try:
            raw = yield from _ask(model, request, pipeline.policy.timeout)
            if not raw.strip():
                raise NameRejected("the model answered with no text")
            name = pipeline.check(raw, attrs.evolve(context, source=MODEL))
        except NamingPluginError as exc:
            if strict:
                raise
            attempts.append(Attempt(MODEL, shorten(raw or "", 200), str(exc)))
            return NameDecision(None, None, tuple(attempts), (exc,))
        except Exception as exc:
            if strict:
                raise NamingError(
                    f"strict naming: the model's name for session "
                    f"{context.session.session_id!r} was not usable ({_describe(exc)})"
                ) from exc
            reason = _describe(exc)
            log.info("naming %s: model answer not used: %s", context.session.session_id, reason)
            attempts.append(Attempt(MODEL, None if raw is None else shorten(raw, 200), reason))
        else:
            return NameDecision(name, MODEL, tuple(attempts))
    elif strict:
        raise NamingError(
            f"strict naming needs a model to name session {context.session.session_id!r}; "
            "give the agent a model or a naming_model"
        )
    return _fall_back(context, pipeline.fallbacks, pipeline, attempts)


def _fall_back(
    context: NamingContext,
    fallbacks: Sequence[Any],
    pipeline: NamingPipeline,
    attempts: list[Attempt],
) -> NameDecision:
    if pipeline.fallback_error is not None:
        raise pipeline.fallback_error
    failed: list[NamingPluginError] = []
    for fallback in fallbacks:
        fallback_context = attrs.evolve(context, source=fallback.name)
        try:
            proposal = fallback.propose(fallback_context)
        except Exception as exc:
            error = plugin_failure(fallback, "fallback", exc)
            error.__cause__ = exc
            failed.append(error)
            attempts.append(Attempt(fallback.name, None, str(error)))
            continue
        if proposal is None:
            attempts.append(Attempt(fallback.name, None, "nothing to propose"))
            continue
        if not isinstance(proposal, str):
            attempts.append(
                Attempt(fallback.name, None, f"proposed a {type(proposal).__name__}, not a str")
            )
            continue
        try:
            name = pipeline.check(proposal, fallback_context)
        except NameRejected as exc:
            attempts.append(Attempt(fallback.name, shorten(proposal, 200), str(exc)))
            continue
        except NamingPluginError as exc:  # a broken guardrail: no name passes it
            attempts.append(Attempt(fallback.name, shorten(proposal, 200), str(exc)))
            return NameDecision(None, None, tuple(attempts), (*failed, exc))
        return NameDecision(name, fallback.name, tuple(attempts), tuple(failed))
    return NameDecision(None, None, tuple(attempts), tuple(failed))
