"""The pytest plugin of the conformance suites, loaded through the ``pytest11`` entry point.

It registers the markers the suites use, so an adapter's own test run knows them (and
``--strict-markers`` collects the suites) without a line of configuration. It imports
nothing of sessionary: loading it costs nothing in a run that uses no suite.
"""

from __future__ import annotations

from typing import Any

__all__ = ["pytest_configure"]

#: The markers the suites put on their tests.
MARKERS = ("slow: takes more than a second (processes, servers); deselect with -m 'not slow'",)


def pytest_configure(config: Any) -> None:
    """Register the suites' markers."""
    for marker in MARKERS:
        config.addinivalue_line("markers", marker)
