"""The code on the OpenAI provider pages runs as shown, against the local fake server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessionary.testing.models import ErrorKind, ProviderHarness

DOCS = Path(__file__).resolve().parents[3] / "docs" / "providers"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)
LOCAL_SERVER = "http://localhost:11434/v1"


def _run_page(page: str, replace: dict[str, str] | None = None) -> None:
    blocks = BLOCK.findall((DOCS / page).read_text())
    assert blocks, f"{page} has no python blocks"
    namespace: dict[str, object] = {"__name__": f"docs_{page}"}
    for block in blocks:
        for old, new in (replace or {}).items():
            block = block.replace(old, new)
        exec(compile(block, page, "exec"), namespace)


def test_openai_page(
    responses_fake: ProviderHarness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
    monkeypatch.setenv("OPENAI_BASE_URL", responses_fake.connection_options()["base_url"])
    first = responses_fake.reply_text("Hello! How can I help?", input_tokens=8, output_tokens=6)
    responses_fake.reply_text("Ship it in May.")
    responses_fake.reply_tool_calls([("get_weather", {"city": "Paris"})])
    responses_fake.reply_text("It is sunny in Paris.")
    responses_fake.reply_text("Once upon a time.", chunks=["Once", " upon", " a time."])
    responses_fake.reply_text("Another one.", chunks=["Another", " one."])
    for loop in ("first", "second"):  # the Async section runs main() in two event loops
        responses_fake.reply_text(f"Awaited in the {loop} loop.", output_tokens=5)
        streamed = ["Streamed", f" in the {loop} loop."]
        responses_fake.reply_text("".join(streamed), chunks=streamed)
    responses_fake.reply_error(ErrorKind.RATE_LIMIT, "Rate limit reached for gpt-5.2")
    responses_fake.reply_error(ErrorKind.RATE_LIMIT, "Rate limit reached for gpt-5.2")

    _run_page("openai.md")

    out = capsys.readouterr().out
    assert "Hello! How can I help?" in out
    assert f"{first.response_id}\n" in out
    assert "['user', 'assistant', 'tool', 'assistant']" in out
    assert "Once upon a time." in out
    assert "slow down: Rate limit reached for gpt-5.2" in out
    for loop in ("first", "second"):
        assert f"Awaited in the {loop} loop. 5\nStreamed in the {loop} loop.\n" in out
    sent = responses_fake.sent()
    assert len(sent) == 12  # every scripted reply was used; the rate limit was retried once
    assert [s.stream for s in sent[6:10]] == [False, True, False, True]
    assert sent[1].raw["reasoning"] == {"effort": "low"}
    assert sent[1].raw["max_output_tokens"] == 2000


def test_openai_chat_page(chat_fake: ProviderHarness, capsys: pytest.CaptureFixture[str]) -> None:
    chat_fake.reply_text("Hello there.")
    chat_fake.reply_text("Blue.")
    chat_fake.reply_text("One, two, three.", chunks=["One,", " two,", " three."])

    _run_page("openai-chat.md", {LOCAL_SERVER: chat_fake.connection_options()["base_url"]})

    assert capsys.readouterr().out.splitlines() == ["Hello there.", "Blue.", "One, two, three."]
    first, tuned, quiet = chat_fake.sent()
    assert first.model == "llama3.2"
    assert first.system == "Answer in one sentence."
    assert (tuned.raw["temperature"], tuned.raw["top_k"]) == (0.2, 40)
    assert quiet.stream
    assert quiet.raw.get("stream_options") is None


def test_the_errors_example_runs_against_a_working_server_too(
    responses_fake: ProviderHarness, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-local")
    monkeypatch.setenv("OPENAI_BASE_URL", responses_fake.connection_options()["base_url"])
    responses_fake.reply_text("Hello! How can I help?")
    [block] = [
        b for b in BLOCK.findall((DOCS / "openai.md").read_text()) if "except ModelError" in b
    ]
    namespace: dict[str, object] = {"__name__": "docs_openai_errors"}
    exec("from sessionary import Agent\nfrom sessionary_openai import OpenAIResponses", namespace)
    exec(compile(block, "openai.md", "exec"), namespace)  # asserted "error" before issue 19
