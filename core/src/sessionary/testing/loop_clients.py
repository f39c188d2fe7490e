"""The clauses a provider on :class:`~sessionary.models.loop_clients.AsyncClientPerLoop` passes.

Such a provider keeps one async SDK client per running event loop: made once however
many calls ask for it at the same moment, closed when its loop shuts down (or by
``aclose``), forgotten once its loop is closed. A provider's tests add this suite beside
:class:`~sessionary.testing.async_models.AsyncModelProviderConformance`, with the same
``harness`` fixture::

    class TestMyProvider(AsyncModelProviderConformance, LoopClientsConformance):
        @pytest.fixture
        def harness(self, my_fake_server):
            return my_fake_server      # a ProviderHarness

The async client tells whether it is closed by ``is_closed``, a method (the OpenAI and
Anthropic SDKs) or a property (``httpx.AsyncClient``).
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from sessionary.models.base import ModelResponse
from sessionary.models.loop_clients import AsyncClientPerLoop, is_client_closed
from sessionary.testing.provider_harness import HELLO, ProviderHarness

__all__ = ["LoopClientsConformance"]


def _model_of(harness: ProviderHarness) -> Any:
    model = harness.make_model()
    assert isinstance(model, AsyncClientPerLoop), (
        f"{type(model).__name__} is not an AsyncClientPerLoop: this suite does not apply"
    )
    return model


class LoopClientsConformance:
    """One async SDK client per event loop; see the module documentation."""

    @pytest.fixture
    def harness(self) -> ProviderHarness:
        """The provider's scripted fake server; every subclass overrides this."""
        raise NotImplementedError("override the `harness` fixture to return a ProviderHarness")

    def test_one_async_client_per_loop_made_once_and_closed_with_the_loop(
        self, harness: ProviderHarness
    ) -> None:
        for index in range(6):
            harness.reply_text(f"answer {index}")
        model = _model_of(harness)
        made: list[Any] = []
        make = model._async_clients._make

        def counting() -> Any:
            made.append(make())
            return made[-1]

        model._async_clients._make = counting

        async def five_at_once() -> tuple[list[ModelResponse], Any]:
            answers = await asyncio.gather(*(model.arespond(HELLO) for _ in range(5)))
            return list(answers), await model.async_client()

        answers, client = asyncio.run(five_at_once())
        assert len(answers) == 5
        assert made == [client]  # the five first calls made one client between them
        assert is_client_closed(client)  # closed when asyncio.run shut its loop down
        assert len(model._async_clients) == 0

        assert asyncio.run(model.arespond(HELLO)).message.content is not None
        assert len(made) == 2
        assert made[1] is not client
        assert is_client_closed(made[1])

    def test_aclose_closes_the_loops_client(self, harness: ProviderHarness) -> None:
        harness.reply_text("one")
        harness.reply_text("two")
        model = _model_of(harness)

        async def scenario() -> tuple[Any, Any, str | None]:
            await model.arespond(HELLO)
            first = await model.async_client()
            await model.aclose()
            await model.aclose()  # closing twice, or with no client, is fine
            answer = await model.arespond(HELLO)
            return first, await model.async_client(), answer.message.content

        first, second, answer = asyncio.run(scenario())
        assert is_client_closed(first)
        assert second is not first
        assert answer == "two"

    def test_a_loop_closed_without_shutting_down_is_forgotten(
        self, harness: ProviderHarness
    ) -> None:
        harness.reply_text("one")
        harness.reply_text("two")
        model = _model_of(harness)
        loop = asyncio.new_event_loop()
        try:
            assert loop.run_until_complete(model.arespond(HELLO)).message.content == "one"
        finally:
            loop.close()  # no shutdown_asyncgens: the client could not be closed
        assert asyncio.run(model.arespond(HELLO)).message.content == "two"
        assert len(model._async_clients) == 0
