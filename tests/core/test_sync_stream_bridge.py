"""A provider that streams only in its sync code streams through ``arun`` too (issue 23
item 3): the default ``Model.astream`` runs its ``stream`` in a worker thread, chunk by
chunk, and closes it when the caller abandons the async stream."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from typing import ClassVar

from sessionary import Agent, Message, Role
from sessionary.domain.runs import Run, RunStatus
from sessionary.models import ContentDelta, Model, ModelRequest, ModelResponse


class SyncStreamer(Model):
    """Streams two chunks; the second only once the caller has let it through."""

    provider: ClassVar[str] = "sync-streamer"

    def __init__(self) -> None:
        self.id = "v1"
        self.release = threading.Event()
        self.closed = threading.Event()

    def respond(self, request: ModelRequest) -> ModelResponse:
        return ModelResponse(message=Message(role=Role.ASSISTANT, content="Hello there"))

    def stream(self, request: ModelRequest) -> Iterator[ContentDelta | ModelResponse]:
        try:
            yield ContentDelta("Hello")
            # A bound, not a timing assertion: the caller lets the second chunk through
            # once it holds the first, which it can only do if the first came alone.
            if not self.release.wait(30):
                raise AssertionError("the first chunk never reached the caller on its own")
            yield ContentDelta(" there")
            yield self.respond(request)
        finally:
            self.closed.set()


def test_arun_streams_a_sync_only_stream_chunk_by_chunk() -> None:
    model = SyncStreamer()
    agent = Agent(model=model, db="memory://")

    async def scenario() -> tuple[list[str], Run]:
        deltas: list[str] = []
        run: Run | None = None
        async for item in agent.arun("Hi", session_id="s1", stream=True):
            if isinstance(item, ContentDelta):
                deltas.append(item.text)
                model.release.set()  # the loop is free while the stream waits for this
            else:
                run = item
        assert run is not None
        return deltas, run

    deltas, run = asyncio.run(scenario())
    assert deltas == ["Hello", " there"]
    assert (run.status, run.content) == (RunStatus.COMPLETED, "Hello there")
    assert model.closed.is_set()


def test_an_abandoned_bridged_stream_is_closed_and_stored_as_cancelled() -> None:
    model = SyncStreamer()
    agent = Agent(model=model, db="memory://")

    async def scenario() -> object:
        steps = agent.arun("Hi", session_id="s1", stream=True)
        first = await steps.__anext__()
        await steps.aclose()  # type: ignore[attr-defined]
        return first

    assert asyncio.run(scenario()) == ContentDelta("Hello")
    assert model.closed.is_set(), "the sync stream was not closed"
    session = agent.get_session(session_id="s1")
    assert session is not None
    [run] = session.runs
    assert (run.status, run.content) == (RunStatus.CANCELLED, "Hello")
