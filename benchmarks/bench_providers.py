"""Provider overhead: what OpenAIResponses and Claude add to an SDK call, next to Agno.

Run from the repository root (Agno is installed only for this run, never a dependency):

    python3 -m uv run --with agno==3.1.10 python benchmarks/bench_providers.py

Without Agno installed the Agno rows are left out.

What it measures, against a local server (``sessionary.testing.fake_http.FakeHTTPServer``
on 127.0.0.1) that answers at once in each provider's wire format, 40 words as one JSON
body or as 40 server-sent text deltas:

- the raw SDK call (``client.responses.create`` / ``client.messages.create``, the
  stream read to its end): the floor every framework pays;
- ``Agent.run`` of Sessionary with ``OpenAIResponses`` / ``Claude`` on ``memory://``,
  a new session per run (request mapping, response parsing, the run stored);
- ``Agent.run`` of Agno 3.1.10 with its ``OpenAIResponses`` / ``Claude``, no db,
  telemetry off;

each plain and streamed (every delta consumed), as the median and p95 of 200 runs after
20 warm-up runs, and the median overhead above the raw SDK call. The async side is timed
the same way on one event loop: the async SDK client's call (``openai.AsyncOpenAI`` /
``anthropic.AsyncAnthropic``) as the floor, the provider's own ``arespond``/``astream``,
``Agent.arun`` on ``memory://`` (whose store calls run in worker threads), and Agno's
``arun``. ``--repeat`` and ``--warmup`` change the counts. The contenders of a
scenario run interleaved (one call each, in turn), so load on the machine weighs on all
of them alike; the load average is printed with the numbers, and on a busy machine the
minimum is the better estimate of the cost itself. Also the wall time of
``import sessionary_openai`` / ``import sessionary_anthropic`` in a fresh interpreter
(which imports no SDK) next to ``import openai`` / ``import anthropic``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from typing import Any

from common import Stats, machine, ms, print_table, save_results
from sessionary_anthropic import Claude
from sessionary_openai import OpenAIResponses

from sessionary import Agent
from sessionary.domain.messages import Message
from sessionary.models import ContentDelta, ModelRequest, ModelResponse
from sessionary.storage.memory import MemoryDb
from sessionary.testing.fake_http import FakeHTTPServer, HTTPReply, RecordedRequest, SSEEvent

os.environ["AGNO_TELEMETRY"] = "false"  # Agno must not call home from a benchmark

WORDS = [f"word{i} " for i in range(40)]
TEXT = "".join(WORDS)
REPEAT = 200
WARMUP = 20
OPENAI_MODEL = "gpt-5.2"
CLAUDE_MODEL = "claude-sonnet-4-6"


# ---------------------------------------------------------------------- the local server


def _openai_response() -> dict[str, Any]:
    return {
        "id": "resp_bench",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": OPENAI_MODEL,
        "output": [
            {
                "type": "message",
                "id": "msg_bench",
                "status": "completed",
                "role": "assistant",
                "content": [{"type": "output_text", "text": TEXT, "annotations": []}],
            }
        ],
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 12,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 40,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 52,
        },
    }


def _openai_events() -> list[SSEEvent]:
    final = _openai_response()
    item = final["output"][0]
    events: list[dict[str, Any]] = [
        {"type": "response.created", "response": {**final, "status": "in_progress", "output": []}},
        {"type": "response.output_item.added", "output_index": 0, "item": {**item, "content": []}},
        {
            "type": "response.content_part.added",
            "item_id": "msg_bench",
            "output_index": 0,
            "content_index": 0,
            "part": {"type": "output_text", "text": "", "annotations": []},
        },
    ]
    events += [
        {
            "type": "response.output_text.delta",
            "item_id": "msg_bench",
            "output_index": 0,
            "content_index": 0,
            "delta": word,
            "logprobs": [],
        }
        for word in WORDS
    ]
    events += [
        {
            "type": "response.output_text.done",
            "item_id": "msg_bench",
            "output_index": 0,
            "content_index": 0,
            "text": TEXT,
            "logprobs": [],
        },
        {"type": "response.output_item.done", "output_index": 0, "item": item},
        {"type": "response.completed", "response": final},
    ]
    return [SSEEvent({**e, "sequence_number": n}, event=e["type"]) for n, e in enumerate(events)]


def _claude_message() -> dict[str, Any]:
    return {
        "id": "msg_bench",
        "type": "message",
        "role": "assistant",
        "model": CLAUDE_MODEL,
        "content": [{"type": "text", "text": TEXT}],
        "stop_reason": "end_turn",
        "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 40},
    }


def _claude_events() -> list[SSEEvent]:
    start = {**_claude_message(), "content": [], "stop_reason": None}
    events: list[dict[str, Any]] = [
        {"type": "message_start", "message": start},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
    ]
    events += [
        {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": w}}
        for w in WORDS
    ]
    events += [
        {"type": "content_block_stop", "index": 0},
        {
            "type": "message_delta",
            "delta": {"stop_reason": "end_turn", "stop_sequence": None},
            "usage": {"output_tokens": 40},
        },
        {"type": "message_stop"},
    ]
    return [SSEEvent(e, event=e["type"]) for e in events]


REPLIES = {
    ("/v1/responses", False): HTTPReply(json=_openai_response()),
    ("/v1/responses", True): HTTPReply(events=_openai_events()),
    ("/v1/messages", False): HTTPReply(json=_claude_message()),
    ("/v1/messages", True): HTTPReply(events=_claude_events()),
}


def responder(request: RecordedRequest) -> HTTPReply:
    return REPLIES[(request.path, bool(request.json().get("stream")))]


# ---------------------------------------------------------------------- the contenders


def raw_openai(url: str, stream: bool) -> Callable[[], Any]:
    import openai

    client = openai.OpenAI(api_key="sk-bench", base_url=url + "/v1", max_retries=0)

    def call() -> Any:
        if stream:
            with client.responses.create(model=OPENAI_MODEL, input="Hello", stream=True) as s:
                return [e for e in s if e.type == "response.output_text.delta"]
        return client.responses.create(model=OPENAI_MODEL, input="Hello").output_text

    return call


def raw_claude(url: str, stream: bool) -> Callable[[], Any]:
    import anthropic

    client = anthropic.Anthropic(api_key="sk-bench", base_url=url, max_retries=0)
    messages: Any = [{"role": "user", "content": "Hello"}]

    def call() -> Any:
        if stream:
            with client.messages.create(
                model=CLAUDE_MODEL, max_tokens=1024, messages=messages, stream=True
            ) as s:
                return [e for e in s if e.type == "content_block_delta"]
        return client.messages.create(model=CLAUDE_MODEL, max_tokens=1024, messages=messages)

    return call


def sessionary_run(model: Any, stream: bool) -> Callable[[], Any]:
    agent = Agent(model=model, db=MemoryDb())
    count = iter(range(10**9))

    def call() -> Any:
        session = f"bench-{next(count)}"
        if stream:
            items = list(agent.run("Hello", session_id=session, stream=True))
            assert items[-1].content == TEXT
            return items
        run = agent.run("Hello", session_id=session)
        assert run.content == TEXT
        return run

    return call


# ---------------------------------------------------------------------- async contenders

#: The one event loop every async contender runs on (clients are bound to their loop).
LOOP = asyncio.new_event_loop()
REQUEST = ModelRequest(messages=[Message(role="user", content="Hello")])


def on_loop(call: Callable[[], Awaitable[Any]]) -> Callable[[], Any]:
    return lambda: LOOP.run_until_complete(call())


def raw_openai_async(url: str, stream: bool) -> Callable[[], Any]:
    import openai

    client = openai.AsyncOpenAI(api_key="sk-bench", base_url=url + "/v1", max_retries=0)

    async def call() -> Any:
        if stream:
            events = await client.responses.create(model=OPENAI_MODEL, input="Hello", stream=True)
            async with events:
                return [e async for e in events if e.type == "response.output_text.delta"]
        return (await client.responses.create(model=OPENAI_MODEL, input="Hello")).output_text

    return on_loop(call)


def raw_claude_async(url: str, stream: bool) -> Callable[[], Any]:
    import anthropic

    client = anthropic.AsyncAnthropic(api_key="sk-bench", base_url=url, max_retries=0)
    messages: Any = [{"role": "user", "content": "Hello"}]

    async def call() -> Any:
        if stream:
            events = await client.messages.create(
                model=CLAUDE_MODEL, max_tokens=1024, messages=messages, stream=True
            )
            async with events:
                return [e async for e in events if e.type == "content_block_delta"]
        return await client.messages.create(model=CLAUDE_MODEL, max_tokens=1024, messages=messages)

    return on_loop(call)


def sessionary_amodel(model: Any, stream: bool) -> Callable[[], Any]:
    async def call() -> Any:
        if stream:
            items = [item async for item in model.astream(REQUEST)]
            assert isinstance(items[-1], ModelResponse)
            assert items[-1].message.content == TEXT
            return [i for i in items if isinstance(i, ContentDelta)]
        response = await model.arespond(REQUEST)
        assert response.message.content == TEXT
        return response

    return on_loop(call)


def sessionary_arun(model: Any, stream: bool) -> Callable[[], Any]:
    agent = Agent(model=model, db=MemoryDb())
    count = iter(range(10**9))

    async def call() -> Any:
        session = f"abench-{next(count)}"
        if stream:
            items = [item async for item in agent.arun("Hello", session_id=session, stream=True)]
            assert items[-1].content == TEXT
            return items
        run = await agent.arun("Hello", session_id=session)
        assert run.content == TEXT
        return run

    return on_loop(call)


def agno_arun(model: Any, stream: bool) -> Callable[[], Any]:
    agent_cls = importlib.import_module("agno.agent").Agent
    agent = agent_cls(model=model, telemetry=False)

    async def call() -> Any:
        if stream:
            return [item async for item in agent.arun("Hello", stream=True)]
        output = await agent.arun("Hello")
        assert output.content == TEXT
        return output

    return on_loop(call)


def agno_available() -> bool:
    try:
        importlib.import_module("agno.agent")
    except ImportError:
        return False
    return True


def agno_run(model: Any, stream: bool) -> Callable[[], Any]:
    agent_cls = importlib.import_module("agno.agent").Agent
    agent = agent_cls(model=model, telemetry=False)

    def call() -> Any:
        if stream:
            return list(agent.run("Hello", stream=True))
        output = agent.run("Hello")
        assert output.content == TEXT
        return output

    return call


def agno_models(url: str) -> dict[str, Any]:
    responses = importlib.import_module("agno.models.openai").OpenAIResponses
    claude = importlib.import_module("agno.models.anthropic").Claude
    return {
        "openai": responses(id=OPENAI_MODEL, api_key="sk-bench", base_url=url + "/v1"),
        "anthropic": claude(id=CLAUDE_MODEL, api_key="sk-bench", client_params={"base_url": url}),
    }


def interleaved(contenders: dict[str, Callable[[], Any]]) -> dict[str, Stats]:
    """Time each contender REPEAT times, one call of each in turn, GC paused per call."""
    for _ in range(WARMUP):
        for call in contenders.values():
            call()
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(REPEAT):
        for name, call in contenders.items():
            gc_was = gc.isenabled()
            gc.disable()
            start = time.perf_counter()
            call()
            samples[name].append(time.perf_counter() - start)
            if gc_was:
                gc.enable()
    return {name: Stats(values) for name, values in samples.items()}


def add_rows(
    rows: list[list[str]], results: dict[str, Any], scenario: str, timed: dict[str, Stats]
) -> None:
    floor = timed["SDK call alone"]
    for name, stats in timed.items():
        extra = stats.median - floor.median
        rows.append(
            [
                scenario,
                name,
                ms(stats.min),
                ms(stats.median),
                ms(stats.p95),
                "-" if name == "SDK call alone" else ms(extra),
            ]
        )
        results[f"{scenario}: {name}"] = stats.as_dict()


def import_wall(module: str, repeat: int = 5) -> Stats:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        samples.append(time.perf_counter() - start)
    return Stats(samples)


def main() -> None:
    global REPEAT, WARMUP
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeat", type=int, default=REPEAT, help="timed calls per contender")
    parser.add_argument("--warmup", type=int, default=WARMUP, help="untimed calls first")
    options = parser.parse_args()
    REPEAT, WARMUP = options.repeat, options.warmup
    results: dict[str, Any] = {"repeat": REPEAT, "warmup": WARMUP, "answer_words": len(WORDS)}
    rows: list[list[str]] = []
    with FakeHTTPServer(responder) as server:
        url = server.url
        ours = {
            "openai": OpenAIResponses(
                id=OPENAI_MODEL, api_key="sk-bench", base_url=url + "/v1", max_retries=0
            ),
            "anthropic": Claude(id=CLAUDE_MODEL, api_key="sk-bench", base_url=url, max_retries=0),
        }
        raws = {"openai": raw_openai, "anthropic": raw_claude}
        theirs = agno_models(url) if agno_available() else {}
        for provider in ("openai", "anthropic"):
            for stream in (False, True):
                scenario = f"{provider}, {'streamed' if stream else 'plain'}"
                calls = {
                    "SDK call alone": raws[provider](url, stream),
                    "Sessionary": sessionary_run(ours[provider], stream),
                }
                if provider in theirs:
                    calls["Agno 3.1.10"] = agno_run(theirs[provider], stream)
                add_rows(rows, results, scenario, interleaved(calls))
        araws = {"openai": raw_openai_async, "anthropic": raw_claude_async}
        for provider in ("openai", "anthropic"):
            for stream in (False, True):
                scenario = f"{provider}, {'streamed' if stream else 'plain'}, async"
                calls = {
                    "SDK call alone": araws[provider](url, stream),
                    "Sessionary astream" if stream else "Sessionary arespond": (
                        sessionary_amodel(ours[provider], stream)
                    ),
                    "Sessionary arun": sessionary_arun(ours[provider], stream),
                }
                if provider in theirs:
                    calls["Agno 3.1.10 arun"] = agno_arun(theirs[provider], stream)
                add_rows(rows, results, scenario, interleaved(calls))
        LOOP.run_until_complete(LOOP.shutdown_asyncgens())  # closes the models' async clients
        LOOP.close()
    load = os.getloadavg()
    results["load_average"] = load
    print(f"\nMachine: {machine()}; load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")
    print_table(
        "One run against a local server that answers at once",
        ["scenario", "who", "min", "median", "p95", "overhead over the SDK call (median)"],
        rows,
    )
    imports = {
        name: import_wall(name)
        for name in ("sessionary_openai", "openai", "sessionary_anthropic", "anthropic")
    }
    print_table(
        "Import in a fresh interpreter (median of 5, includes interpreter start)",
        ["module", "median"],
        [[name, ms(stats.median)] for name, stats in imports.items()],
    )
    results["imports"] = {name: stats.as_dict() for name, stats in imports.items()}
    print("\n" + json.dumps({"saved": str(save_results("bench_providers", results))}))


if __name__ == "__main__":
    main()
