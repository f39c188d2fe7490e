"""Importing sessionary, the plugin, or naming a model imports no ``openai`` SDK."""

from __future__ import annotations

import subprocess
import sys

from sessionary.testing.models import ProviderHarness

SCRIPT = """
import sys
import sessionary
from sessionary import Agent, get_model
import sessionary_openai, sessionary_openai.plugin
from sessionary_openai import OpenAIChat, OpenAIResponses

OpenAIResponses(id="gpt-5.2")
get_model("openai-chat:llama3.2")
agent = Agent(model="openai:gpt-5.2", db="memory://")
assert "openai" not in sys.modules, "the SDK was imported before the first call"

agent.model.base_url = sys.argv[1]
agent.model.api_key = "sk-test-local"
agent.model.max_retries = 0
print(agent.run("Hello").content)
assert "openai" in sys.modules
"""


def test_no_sdk_until_the_first_call(responses_fake: ProviderHarness) -> None:
    responses_fake.reply_text("Imported late.")
    base_url = responses_fake.server.url + "/v1"  # type: ignore[attr-defined]
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, base_url], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "Imported late."
