"""A third party's test run collects the conformance suite under ``--strict-markers``."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path


def test_a_third_party_run_with_strict_markers_collects_the_suite(tmp_path: Path) -> None:
    # A project of its own: no ini file of this repository, no marker registered by hand.
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "test_my_store.py").write_text(
        textwrap.dedent(
            """
            import pytest

            from sessionary.storage.memory import MemoryDb
            from sessionary.testing import StorageConformance


            class TestMine(StorageConformance):
                @pytest.fixture
                def store(self):
                    with MemoryDb() as store:
                        yield store
            """
        )
    )
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    assert "test_four_processes_append_without_losing_a_run" in done.stdout
    assert "PytestUnknownMarkWarning" not in done.stdout + done.stderr
