"""The code on docs/storage/mongodb.md runs as shown."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[3] / "docs" / "storage" / "mongodb.md"
BLOCK = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def test_mongodb_page_code_runs() -> None:
    blocks = BLOCK.findall(DOC.read_text())
    assert len(blocks) == 3
    for index, block in enumerate(blocks):
        namespace: dict[str, object] = {"__name__": f"docs_mongodb_{index}"}
        exec(compile(block, f"{DOC.name} block {index}", "exec"), namespace)


def test_mongodb_page_names_the_real_server_command() -> None:
    text = DOC.read_text()
    assert 'SESSIONARY_MONGODB_URL=mongodb://localhost:27017 nox -s "tests(mongodb-real)"' in text
