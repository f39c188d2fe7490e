"""Every hook has a documentation section with its exact signature, and a test."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from sessionary import hookspecs

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "reference" / "hooks.md"
HOOKS = sorted(
    name
    for name, value in vars(hookspecs).items()
    if name.startswith("sessionary_") and callable(value)
)


def test_every_hook_is_prefixed_and_has_a_docstring() -> None:
    assert len(HOOKS) >= 8
    for name in HOOKS:
        assert (getattr(hookspecs, name).__doc__ or "").strip(), name


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_documentation_section_with_its_signature(name: str) -> None:
    text = DOCS.read_text()
    assert f"### {name}\n" in text, f"docs/reference/hooks.md has no section for {name}"
    spec = getattr(hookspecs, name)
    signature = inspect.signature(spec, eval_str=False)
    params = ", ".join(
        f"{p.name}: {p.annotation}" if p.annotation is not inspect.Parameter.empty else p.name
        for p in signature.parameters.values()
    )
    expected = f"def {name}({params}) -> {signature.return_annotation}"
    assert expected in text, f"the documented signature of {name} is not {expected!r}"


@pytest.mark.parametrize("name", HOOKS)
def test_every_hook_has_a_test(name: str) -> None:
    this = Path(__file__).resolve()
    for path in (ROOT / "tests").rglob("test_*.py"):
        if path.resolve() != this and re.search(rf"\b{name}\b", path.read_text()):
            return
    pytest.fail(f"no test under tests/ mentions the hook {name}")
