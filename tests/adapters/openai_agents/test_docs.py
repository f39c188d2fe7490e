"""The OpenAI Agents SDK page's code runs as shown, in order."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

PAGE = Path(__file__).resolve().parents[3] / "docs" / "openai-agents.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_the_page_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) == 3
    namespace: dict[str, object] = {"__name__": "docs_openai_agents"}
    for block in blocks:
        exec(compile(block, PAGE.name, "exec"), namespace)
