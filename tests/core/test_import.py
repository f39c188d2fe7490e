"""``import sessionary`` stays cheap: no plugin, adapter or SDK is imported by it."""

from __future__ import annotations

import json
import subprocess
import sys

HEAVY = ("openai", "anthropic", "redis", "pymongo", "pluggy", "attrs", "click", "rich")


def _modules_after(code: str) -> set[str]:
    script = f"{code}\nimport sys, json\nprint(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", script], check=True, capture_output=True, text=True
    ).stdout
    return set(json.loads(out))


def test_import_sessionary_imports_nothing_heavy() -> None:
    modules = _modules_after("import sessionary")
    loaded = {name.split(".")[0] for name in modules}
    assert not loaded & set(HEAVY), loaded & set(HEAVY)
    assert not any(name.startswith("sessionary_") for name in loaded)


def test_names_load_on_first_use() -> None:
    modules = _modules_after("from sessionary import Agent")
    assert "sessionary.agent.agent" in modules
    # plugins load on first use of a registry, not at import
    assert "sessionary.builtins" not in modules
    assert not any(name.startswith("sessionary_") for name in modules)


def test_unknown_attributes_are_an_attribute_error() -> None:
    import pytest

    import sessionary

    with pytest.raises(AttributeError, match="DoesNotExist"):
        sessionary.DoesNotExist  # noqa: B018
    assert "Agent" in dir(sessionary)
