"""The code of docs/guides/naming.md runs as shown, in order, with every component installed."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from sessionary.naming import set_default_policy

PAGE = Path(__file__).resolve().parents[2] / "docs" / "guides" / "naming.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


@pytest.fixture(autouse=True)
def reset_policy() -> Iterator[None]:
    set_default_policy(None)
    yield
    set_default_policy(None)


def test_the_naming_guide_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(PAGE.read_text())
    assert len(blocks) >= 10
    namespace: dict[str, object] = {"__name__": "docs_naming"}
    for number, block in enumerate(blocks, 1):
        exec(compile(block, f"{PAGE.name} block {number}", "exec"), namespace)
