"""The getting-started page's command-line example reads the file the page's code wrote,
and its install commands are the ones a fresh clone needs (issue 19 item 12)."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
from click.testing import CliRunner
from sessionary_cli import main

ROOT = Path(__file__).resolve().parents[3]
PAGE = ROOT / "docs" / "getting-started.md"
PYTHON = re.compile(r"^```python\n(.*?)^```", re.S | re.M)


def _sh_block(marker: str) -> list[str]:
    text = PAGE.read_text()
    block = text.split(f"<!-- {marker} -->\n```sh\n", 1)[1].split("```", 1)[0]
    return [line.split("#")[0].strip() for line in block.splitlines() if line.strip()]


def test_the_cli_example_reads_the_file_the_page_wrote(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict[str, object] = {"__name__": "docs_getting_started"}
    for block in PYTHON.findall(PAGE.read_text()):
        exec(compile(block, "getting-started.md", "exec"), namespace)
    commands = _sh_block("cli-example")
    assert commands[0].startswith("sessionary sessions list")
    for command in commands:
        args = shlex.split(command)[1:]
        result = CliRunner().invoke(main, args, env={"COLUMNS": "200"})
        assert result.exit_code == 0, (command, result.stdout, result.stderr)
        if args[:2] == ["sessions", "show"]:
            assert "Hi, I am Alice." in result.stdout


def test_the_install_commands_name_components_that_exist() -> None:
    commands = _sh_block("install-command")
    install = next(c for c in commands if "pip install" in c)
    for path in install.split("pip install", 1)[1].split():
        assert (ROOT / path / "pyproject.toml").is_file(), path
    assert commands[-1] == ".venv/bin/sessionary demo"
