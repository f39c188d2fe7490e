"""A failing conformance clause says what it got and what it expected (issue 23): the
suites' asserts are rewritten by pytest like those of the plugin's own test file."""

from __future__ import annotations

import importlib

import pytest

from sessionary.testing import SUITES


@pytest.mark.parametrize("name", SUITES)
def test_every_suite_module_is_rewritten_by_pytest(name: str) -> None:
    module = importlib.import_module(name)
    assert "@py_builtins" in vars(module), f"{name}'s asserts would fail without a message"


def test_a_failing_clause_shows_both_sides() -> None:
    from sessionary.testing.models import _drain  # a clause helper with a bare assert

    with pytest.raises(AssertionError) as caught:
        _drain(iter([]))
    assert "assert None is not None" in str(caught.value)
