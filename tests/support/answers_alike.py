"""Sync against async: a provider-specific wire case answered alike both ways.

:func:`assert_answers_alike` scripts one reply twice; the sync call and the async one
must give the caller the same deltas and response (or the same error), from the same
request on the wire::

    @pytest.mark.parametrize("case", list(CASES))
    def test_answers_alike(my_fake, case):
        reply, stream, error = CASES[case]
        assert_answers_alike(my_fake, reply, stream=stream, error=error)
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from sessionary.errors import ModelError
from sessionary.models.base import ContentDelta, Model, ModelRequest, ModelResponse
from sessionary.testing.fake_http import HTTPReply
from sessionary.testing.provider_harness import HELLO, ProviderHarness

__all__ = ["Outcome", "assert_answers_alike", "error_of", "sync_and_async"]

#: What a caller saw of one call: ``(deltas, (content, tool calls, metadata, usage,
#: response ID))``, or ``(deltas, error class, error text, provider message)``.
Outcome = tuple[Any, ...]


def _outcome_of(response: ModelResponse) -> tuple[Any, ...]:
    message = response.message
    return (
        message.content,
        message.tool_calls,
        message.metadata,
        response.usage,
        response.response_id,
    )


def _settle(call: Callable[[list[str]], ModelResponse]) -> Outcome:
    deltas: list[str] = []
    try:
        response = call(deltas)
    except ModelError as exc:
        return deltas, type(exc), str(exc), exc.provider_message
    return deltas, _outcome_of(response)


def sync_and_async(model: Model, request: ModelRequest, *, stream: bool) -> tuple[Outcome, Outcome]:
    """One call each way (``respond``/``arespond``, or ``stream``/``astream``), as seen by
    the caller: the sync call's :data:`Outcome`, then the async one's."""

    def in_sync(deltas: list[str]) -> ModelResponse:
        if not stream:
            return model.respond(request)
        last = None
        for item in model.stream(request):
            if isinstance(item, ContentDelta):
                deltas.append(item.text)
            else:
                last = item
        assert last is not None, "the stream did not end with the response"
        return last

    async def in_async(deltas: list[str]) -> ModelResponse:
        if not stream:
            return await model.arespond(request)
        last = None
        async for item in model.astream(request):
            if isinstance(item, ContentDelta):
                deltas.append(item.text)
            else:
                last = item
        assert last is not None, "the stream did not end with the response"
        return last

    return _settle(in_sync), _settle(lambda deltas: asyncio.run(in_async(deltas)))


def error_of(outcome: Outcome) -> type[ModelError] | None:
    """The error class an :data:`Outcome` records, or ``None`` for an answer."""
    error: type[ModelError] | None = outcome[1] if len(outcome) == 4 else None
    return error


def assert_answers_alike(
    harness: ProviderHarness,
    reply: HTTPReply,
    *,
    stream: bool,
    error: type[ModelError] | None,
    request: ModelRequest = HELLO,
    model: Model | None = None,
) -> tuple[Outcome, Outcome]:
    """Script ``reply`` twice; the sync and async calls must answer it alike.

    Alike: the same deltas and response, or the same error (class, text, provider
    message), which must be an ``error`` (``None``: an answer), from the same request
    body on the wire. ``model`` defaults to ``harness.make_model()``. Returns both
    outcomes, for assertions of the caller's own.
    """
    harness.reply_raw(reply)
    harness.reply_raw(reply)
    before = len(harness.sent())
    in_sync, in_async = sync_and_async(model or harness.make_model(), request, stream=stream)
    assert in_async == in_sync
    raised = error_of(in_async)
    if error is None:
        assert raised is None, in_async
    else:
        assert raised is not None and issubclass(raised, error), in_async
    by_sync, by_async = harness.sent()[before:]
    assert by_async.raw == by_sync.raw
    return in_sync, in_async
