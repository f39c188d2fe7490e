"""``LoopClients`` takes a plain ``httpx.AsyncClient`` as it is (``aclose()``, ``is_closed``).

httpx comes with the ``openai`` SDK, so this lives beside the provider that needs it; a
third-party provider on httpx keeps its clients the same way.
"""

from __future__ import annotations

import asyncio

import httpx

from sessionary.models.loop_clients import LoopClients, is_client_closed


def test_an_httpx_client_is_made_per_loop_and_closed_with_it() -> None:
    clients: LoopClients[httpx.AsyncClient] = LoopClients(httpx.AsyncClient)

    async def both_calls() -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        return await clients.get(), await clients.get()

    first, again = asyncio.run(both_calls())
    assert first is again
    assert first.is_closed  # httpx's is_closed is a property
    assert is_client_closed(first)
    assert len(clients) == 0

    second, _ = asyncio.run(both_calls())
    assert second is not first
    assert second.is_closed


def test_aclose_closes_the_running_loops_httpx_client() -> None:
    clients: LoopClients[httpx.AsyncClient] = LoopClients(httpx.AsyncClient)

    async def scenario() -> tuple[httpx.AsyncClient, bool]:
        client = await clients.get()
        await clients.aclose()
        return client, client.is_closed

    client, closed_before_the_loop_ended = asyncio.run(scenario())
    assert closed_before_the_loop_ended
    assert not is_client_closed(httpx.AsyncClient())
