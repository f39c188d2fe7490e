"""Every ``pip install sessionary...`` line in the docs says how to install the same
distributions from a clone of the repository (they are not on the package index yet),
and every path it gives is a distribution of this repository (issue 23)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = sorted((ROOT / "docs").rglob("*.md"))
#: ``pip install sessionary sessionary-sqlite``, ``pip install "sessionary[cli]"``, ``-U``.
FROM_INDEX = re.compile(r"pip install (?:-U )?((?:\"?sessionary[\w\-\[\]]*\"?[ ]*)+)")
FROM_CLONE = re.compile(r"pip install (?:-U )?((?:\./[\w/\-]+[ ]*)+)")


def _name(path: str) -> str:
    found = re.search(r'^name = "(.+)"', (ROOT / path / "pyproject.toml").read_text(), re.M)
    assert found is not None, f"{path}/pyproject.toml names no project"
    return found.group(1)


def _paths_for(requirement: str) -> set[str]:
    name = requirement.strip('"')
    if name == "sessionary[cli]":
        return {"./core", "./plugins/cli"}
    if name == "sessionary":
        return {"./core"}
    short = name.removeprefix("sessionary-")
    for folder in ("adapters", "plugins"):
        if (ROOT / folder / short / "pyproject.toml").is_file():
            return {f"./{folder}/{short}"}
    raise AssertionError(f"no distribution {name!r} in this repository")


def _lines() -> list[tuple[Path, int, str]]:
    found = []
    for page in PAGES:
        lines = page.read_text().splitlines()
        for index, line in enumerate(lines):
            for match in FROM_INDEX.finditer(line):
                found.append((page, index, match.group(1)))
    return found


LINES = _lines()


def test_the_docs_have_install_lines() -> None:
    assert len(LINES) >= 10


@pytest.mark.parametrize(
    ("page", "index", "requirements"),
    LINES,
    ids=[f"{p.relative_to(ROOT)}:{i + 1}" for p, i, _ in LINES],
)
def test_each_install_line_says_how_to_install_from_the_repository(
    page: Path, index: int, requirements: str
) -> None:
    lines = page.read_text().splitlines()
    near = "\n".join(lines[index : index + 16])
    given: set[str] = set()
    for match in FROM_CLONE.finditer(near):
        given.update(match.group(1).split())
    wanted = set().union(*(_paths_for(r) for r in requirements.split()))
    assert wanted <= given, (
        f"{page.relative_to(ROOT)}:{index + 1}: `pip install {requirements.strip()}` needs, "
        f"within the next lines, `pip install {' '.join(sorted(wanted))}` from a clone"
    )
    for path in given:
        assert _name(path).startswith("sessionary"), f"{path} is not a distribution"
