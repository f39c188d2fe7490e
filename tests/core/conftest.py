"""Fixtures for core tests: fake installed plugins, a fresh plugin host."""

from __future__ import annotations

import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from sessionary.plugins.manager import reset_plugin_host

MakePlugin = Callable[[str, str], None]


@pytest.fixture
def fresh_plugins() -> Iterator[None]:
    """Load plugins anew before and after the test."""
    reset_plugin_host()
    yield
    reset_plugin_host()


@pytest.fixture
def install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fresh_plugins: None
) -> Iterator[MakePlugin]:
    """Install a fake distribution with a ``sessionary`` entry point for this test only."""
    site = tmp_path / "site"
    site.mkdir()
    monkeypatch.syspath_prepend(str(site))
    added: list[str] = []

    def install(name: str, source: str) -> None:
        module = f"fake_plugin_{name.replace('-', '_')}"
        (site / f"{module}.py").write_text(textwrap.dedent(source))
        dist = site / f"{module}-1.2.3.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.2.3\n")
        (dist / "entry_points.txt").write_text(f"[sessionary]\n{name} = {module}\n")
        added.append(module)

    yield install
    for module in added:
        sys.modules.pop(module, None)
