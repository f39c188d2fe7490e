"""docs/guarantees.md cannot drift: every test it names exists and is collected, and every
guarantee names a test (or is marked as one issue 18 is adding)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGE = ROOT / "docs" / "guarantees.md"
REFERENCE = re.compile(r"`(tests/[\w/.-]+\.py(?:::\w+)+)`")
PENDING = "added by issue 18: TODO"
MADE_UP = "tests/core/test_memory_store.py::TestMemoryDb::test_no_such_guarantee_exists"


def references() -> list[str]:
    return sorted(set(REFERENCE.findall(PAGE.read_text(encoding="utf-8"))))


def not_collected(node_ids: list[str]) -> set[str]:
    """The node IDs pytest does not collect from their files (a parametrised test counts by
    its name)."""
    files = sorted({node_id.split("::")[0] for node_id in node_ids})
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", *files],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    collected = {line.split("[")[0] for line in result.stdout.splitlines() if "::" in line}
    return {node_id for node_id in node_ids if node_id not in collected}


def test_every_row_names_a_test_or_is_pending() -> None:
    rows = [
        line
        for line in PAGE.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith(("| guarantee", "| ---"))
    ]
    assert len(rows) >= 30
    bare = [row for row in rows if not REFERENCE.search(row) and PENDING not in row]
    assert bare == [], "a guarantee without a test"


def test_the_page_is_in_the_site_navigation() -> None:
    assert "guarantees.md" in (ROOT / "mkdocs.yml").read_text(encoding="utf-8")


@pytest.mark.slow
def test_every_test_the_page_names_exists() -> None:
    cited = references()
    assert len(cited) >= 40
    for node_id in cited:
        assert (ROOT / node_id.split("::")[0]).is_file(), node_id
    # A made-up name among the real ones is the only one missing: the check can fail.
    assert not_collected([*cited, MADE_UP]) == {MADE_UP}
