"""OpenAIResponses on the wire: what the Responses API receives and how its answers map."""

from __future__ import annotations

import json
import threading
from typing import Any

import pytest
from sessionary_openai import OpenAIResponses

from sessionary import Agent, tool
from sessionary.domain.messages import Role
from sessionary.domain.runs import RunStatus
from sessionary.errors import (
    ModelAuthenticationError,
    ModelBadRequestError,
    ModelConnectionError,
    ModelError,
    ModelRateLimitError,
    ModelResponseError,
    ModelServerError,
    ModelTimeoutError,
)
from sessionary.models.base import ContentDelta
from sessionary.storage.memory import MemoryDb
from sessionary.testing.fake_http import HTTPReply, SSEEvent
from sessionary.testing.models import ProviderHarness


@tool
def get_weather(city: str, unit: str = "celsius") -> str:
    """Get the weather in a city.

    Args:
        city: The city's name.
        unit: celsius or fahrenheit.
    """
    return f"Sunny in {city} ({unit})"


def _raw(harness: ProviderHarness, index: int = -1) -> dict[str, Any]:
    return harness.sent()[index].raw


def _response(output: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    body = {
        "id": "resp_raw",
        "object": "response",
        "created_at": 1,
        "status": "completed",
        "model": "gpt-5.2",
        "output": output,
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "usage": {
            "input_tokens": 3,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": 2,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 5,
        },
    }
    body.update(extra)
    return body


def test_request_body_and_headers(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_text("Hi!")
    agent = Agent(
        model=responses_fake.make_model(),
        instructions=["Be brief.", "Be kind."],
        tools=[get_weather],
    )
    agent.run("Hello")

    server = responses_fake.server  # type: ignore[attr-defined]
    [request] = server.requests
    assert request.path == "/v1/responses"
    assert request.header("Authorization") == "Bearer sk-test-local"
    body = request.json()
    assert body == {
        "model": "gpt-5.2",
        "instructions": "Be brief.\nBe kind.",
        "input": [{"role": "user", "content": "Hello"}],
        "tools": [
            {
                "type": "function",
                "name": "get_weather",
                "description": "Get the weather in a city.",
                "parameters": get_weather.parameters,
                "strict": False,
            }
        ],
    }


def test_tool_calls_and_results_on_the_wire(responses_fake: ProviderHarness) -> None:
    call = responses_fake.reply_tool_calls([("get_weather", {"city": "Paris"})])
    responses_fake.reply_text("Sunny.")
    Agent(model=responses_fake.make_model(), tools=[get_weather]).run("Paris?")
    [call_id] = call.call_ids
    assert _raw(responses_fake)["input"] == [
        {"role": "user", "content": "Paris?"},
        {
            "type": "function_call",
            "call_id": call_id,
            "name": "get_weather",
            "arguments": json.dumps({"city": "Paris"}),
        },
        {"type": "function_call_output", "call_id": call_id, "output": "Sunny in Paris (celsius)"},
    ]


def test_text_and_tool_calls_in_one_answer(responses_fake: ProviderHarness) -> None:
    message = {
        "type": "message",
        "id": "msg_1",
        "status": "completed",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Let me check.", "annotations": []}],
    }
    function_call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_a",
        "name": "get_weather",
        "arguments": '{"city": "Oslo"}',
        "status": "completed",
    }
    responses_fake.reply_raw(HTTPReply(json=_response([message, function_call])))
    responses_fake.reply_text("Sunny in Oslo.")
    run = Agent(model=responses_fake.make_model(), tools=[get_weather]).run("Oslo?")

    first_answer = run.messages[1]
    assert first_answer.content == "Let me check."
    assert [c.id for c in first_answer.tool_calls] == ["call_a"]
    assert first_answer.metadata["response_id"] == "resp_raw"
    assert _raw(responses_fake)["input"][1:3] == [
        {"role": "assistant", "content": "Let me check."},
        {
            "type": "function_call",
            "call_id": "call_a",
            "name": "get_weather",
            "arguments": '{"city": "Oslo"}',
        },
    ]


def test_arguments_that_are_not_json_go_back_to_the_model(responses_fake: ProviderHarness) -> None:
    bad_call = {
        "type": "function_call",
        "id": "fc_1",
        "call_id": "call_bad",
        "name": "get_weather",
        "arguments": "{city: Paris",
        "status": "completed",
    }
    responses_fake.reply_raw(HTTPReply(json=_response([bad_call])))
    responses_fake.reply_text("Sorry.")
    run = Agent(model=responses_fake.make_model(), tools=[get_weather]).run("Paris?")
    assert run.status is RunStatus.COMPLETED
    sent_back = _raw(responses_fake)["input"]
    assert sent_back[1]["arguments"] == "{city: Paris"  # replayed exactly as the model sent it
    assert sent_back[2]["type"] == "function_call_output"
    assert "not a JSON object" in sent_back[2]["output"]


def test_reasoning_items_are_noted_and_incomplete_answers_kept(
    responses_fake: ProviderHarness,
) -> None:
    reasoning = {"type": "reasoning", "id": "rs_1", "summary": []}
    message = {
        "type": "message",
        "id": "msg_1",
        "status": "incomplete",
        "role": "assistant",
        "content": [{"type": "output_text", "text": "Partial ans", "annotations": []}],
    }
    responses_fake.reply_raw(
        HTTPReply(
            json=_response(
                [reasoning, message],
                status="incomplete",
                incomplete_details={"reason": "max_output_tokens"},
            )
        )
    )
    run = Agent(model=responses_fake.make_model()).run("Long question")
    answer = run.last_assistant_message
    assert answer is not None
    assert answer.content == "Partial ans"
    assert answer.metadata["incomplete_reason"] == "max_output_tokens"
    assert answer.metadata["other_output"] == ["reasoning"]


def test_request_params_by_name_and_in_extra_body(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_text("Hi!")
    model = responses_fake.make_model(
        request_params={
            "temperature": 0.2,
            "reasoning": {"effort": "low"},
            "tools": [{"type": "web_search"}],
            "vendor_flag": True,  # not an SDK parameter: travels in extra_body
        }
    )
    Agent(model=model, tools=[get_weather]).run("Hello")
    body = _raw(responses_fake)
    assert body["temperature"] == 0.2
    assert body["reasoning"] == {"effort": "low"}
    assert body["vendor_flag"] is True
    assert [t["type"] for t in body["tools"]] == ["function", "web_search"]


@pytest.mark.parametrize("key", ["model", "input", "instructions", "stream"])
def test_request_params_cannot_override_the_request(key: str) -> None:
    with pytest.raises(ValueError, match=key):
        OpenAIResponses(id="gpt-5.2", request_params={key: "x"})


@pytest.mark.parametrize(
    ("options", "wrong"),
    [
        ({"id": ""}, "id"),
        ({"id": 5}, "id"),
        ({"id": "m", "timeout": -1}, "timeout"),
        ({"id": "m", "timeout": "5"}, "timeout"),
        ({"id": "m", "max_retries": -1}, "max_retries"),
        ({"id": "m", "max_retries": True}, "max_retries"),
        ({"id": "m", "api_key": 123}, "api_key"),
        ({"id": "m", "base_url": 1}, "base_url"),
    ],
)
def test_bad_options_are_clear_errors(options: dict[str, Any], wrong: str) -> None:
    with pytest.raises(ValueError, match=wrong):
        OpenAIResponses(**options)


def test_environment_variables_are_honoured(
    responses_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    server = responses_fake.server  # type: ignore[attr-defined]
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-env")
    monkeypatch.setenv("OPENAI_BASE_URL", server.url + "/v1")
    responses_fake.reply_text("From the environment.")
    model = OpenAIResponses(id="gpt-5.2", max_retries=0)
    assert Agent(model=model).run("Hello").content == "From the environment."
    assert server.requests[0].header("Authorization") == "Bearer sk-from-env"


def test_timeout_and_retries_reach_the_sdk_client() -> None:
    model = OpenAIResponses(id="gpt-5.2", api_key="k", timeout=3.5, max_retries=4)
    client = model.client
    assert client.max_retries == 4
    assert client.timeout == 3.5


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (403, ModelAuthenticationError),
        (404, ModelBadRequestError),
        (422, ModelBadRequestError),
        (408, ModelTimeoutError),
        (503, ModelServerError),
    ],
)
def test_other_statuses(
    responses_fake: ProviderHarness, status: int, error: type[ModelError]
) -> None:
    body = {"error": {"message": f"status {status}", "type": "x", "param": None, "code": None}}
    responses_fake.reply_raw(HTTPReply(status=status, json=body))
    with pytest.raises(error, match=f"status {status}") as caught:
        Agent(model=responses_fake.make_model()).run("Hello")
    assert caught.value.provider_message == f"status {status}"


def test_a_body_that_is_not_json(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_raw(HTTPReply(body=b"<html>proxy error</html>", content_type="text/html"))
    with pytest.raises(ModelResponseError, match="not a Responses API response"):
        Agent(model=responses_fake.make_model()).run("Hello")


def test_a_server_that_is_gone() -> None:
    model = OpenAIResponses(
        id="gpt-5.2", api_key="k", base_url="http://127.0.0.1:9/v1", max_retries=0
    )
    db = MemoryDb()
    with pytest.raises(ModelConnectionError):
        Agent(model=model, db=db).run("Hello", session_id="s1")
    stored = db.get_session("s1")
    assert stored is not None
    assert stored.runs[0].status is RunStatus.ERROR


def _stream(events: list[dict[str, Any]], **reply: Any) -> HTTPReply:
    return HTTPReply(
        events=[
            SSEEvent({**event, "sequence_number": n}, event=event["type"])
            for n, event in enumerate(events)
        ],
        **reply,
    )


def _delta(text: str) -> dict[str, Any]:
    return {
        "type": "response.output_text.delta",
        "item_id": "msg_1",
        "output_index": 0,
        "content_index": 0,
        "delta": text,
        "logprobs": [],
    }


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("rate_limit_exceeded", ModelRateLimitError),
        ("server_error", ModelServerError),
        ("invalid_prompt", ModelBadRequestError),
    ],
)
def test_error_event_in_the_stream(
    responses_fake: ProviderHarness, code: str, error: type[ModelError]
) -> None:
    events = [
        _delta("Hel"),
        {"type": "error", "code": code, "message": f"stream says {code}", "param": None},
    ]
    responses_fake.reply_raw(_stream(events))
    db = MemoryDb()
    agent = Agent(model=responses_fake.make_model(), db=db)
    deltas: list[str] = []
    with pytest.raises(error) as caught:
        deltas.extend(
            item.text
            for item in agent.run("Hi", session_id="s1", stream=True)
            if isinstance(item, ContentDelta)
        )
    assert caught.value.provider_message == f"stream says {code}"
    [run] = agent.get_session(session_id="s1").runs  # type: ignore[union-attr]
    assert run.status is RunStatus.ERROR
    assert run.content == "Hel"
    assert run.messages[-1].metadata == {"partial": True}


def test_failed_response_event(responses_fake: ProviderHarness) -> None:
    failed = _response([], status="failed", error={"code": "server_error", "message": "boom"})
    responses_fake.reply_raw(_stream([{"type": "response.failed", "response": failed}]))
    with pytest.raises(ModelServerError, match="boom"):
        list(Agent(model=responses_fake.make_model()).run("Hi", stream=True))


def test_stream_that_ends_without_completing(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_raw(_stream([_delta("Hel")]))
    with pytest.raises(ModelResponseError, match="before the response completed"):
        list(Agent(model=responses_fake.make_model()).run("Hi", stream=True))


def test_streamed_run_metadata(responses_fake: ProviderHarness) -> None:
    reply = responses_fake.reply_text("One two", chunks=["One", " two"])
    items = list(Agent(model=responses_fake.make_model()).run("Count", stream=True))
    run = items[-1]
    assert not isinstance(run, ContentDelta)
    answer = run.messages[-1]
    assert answer.role is Role.ASSISTANT
    assert answer.metadata["response_id"] == reply.response_id
    assert answer.metadata["model"] == "gpt-5.2"
    assert _raw(responses_fake)["stream"] is True


@pytest.mark.parametrize("option", ["request_params", "client_params"])
def test_params_must_be_mappings(option: str) -> None:
    with pytest.raises(ValueError, match=option):
        OpenAIResponses(id="m", **{option: [("temperature", 1)]})  # type: ignore[arg-type]


def test_one_model_shared_by_threads(responses_fake: ProviderHarness) -> None:
    """The lazily made client is made once, and concurrent runs all get their answers."""
    for index in range(8):
        responses_fake.reply_text(f"answer {index}")
    model: Any = responses_fake.make_model()
    made: list[object] = []
    make_client = model._make_client

    def counting_make_client() -> Any:
        made.append(1)
        return make_client()

    model._make_client = counting_make_client
    db = MemoryDb()
    answers: list[str | None] = []
    errors: list[BaseException] = []

    def one(index: int) -> None:
        try:
            answers.append(
                Agent(model=model, db=db).run(f"q{index}", session_id=f"s{index}").content
            )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert sorted(a or "" for a in answers) == sorted(f"answer {i}" for i in range(8))
    assert len(db.list_sessions(limit=50).items) == 8
    assert len(made) == 1
