"""The code on the Anthropic provider page runs as shown, against the local fake server."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from sessionary.testing.fake_http import HTTPReply
from sessionary.testing.models import ProviderHarness

PAGE = Path(__file__).resolve().parents[3] / "docs" / "providers" / "anthropic.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_anthropic_page(
    claude_fake: ProviderHarness,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-ant-test-local")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", claude_fake.connection_options()["base_url"])
    first = claude_fake.reply_text("Hello! How can I help?", input_tokens=9, output_tokens=4)
    claude_fake.reply_tool_calls(
        [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})]
    )
    claude_fake.reply_text("Sunny in both.")
    overloaded = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    claude_fake.reply_raw(HTTPReply(status=529, json=overloaded))
    claude_fake.reply_text("Rome or Paris.")  # the Async section's two calls at once
    claude_fake.reply_text("Rome or Paris.")

    blocks = BLOCK.findall(PAGE.read_text())
    assert blocks
    namespace: dict[str, object] = {"__name__": "docs_anthropic"}
    for block in blocks:
        exec(compile(block, "anthropic.md", "exec"), namespace)

    out = capsys.readouterr().out
    assert f"{first.response_id} end_turn" in out
    assert "9 4" in out
    assert "['user', 'assistant', 'tool', 'tool', 'assistant']" in out
    assert "Claude is overloaded: Overloaded" in out
    assert "['Rome or Paris.', 'Rome or Paris.']" in out
    sent = claude_fake.sent()
    assert len(sent) == 6
    questions = sorted(s.messages[0].content or "" for s in sent[4:])
    assert questions == ["Capital of France?", "Capital of Italy?"]
    assert sent[5].raw["temperature"] == 0.2  # the page's `careful` model
    assert sent[1].raw["max_tokens"] == 1024
    assert sent[1].raw["temperature"] == 0.2
