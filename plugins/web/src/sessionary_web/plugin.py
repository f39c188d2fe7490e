"""The sessionary-web plugin: adds ``sessionary serve`` to the command line."""

from __future__ import annotations

from collections.abc import Sequence

from sessionary import hookimpl

__all__ = ["sessionary_cli_commands"]


@hookimpl
def sessionary_cli_commands() -> Sequence[object]:
    """``serve`` (imported only when the command line asks, so loading plugins stays cheap)."""
    from sessionary_web.cli import serve

    return [serve]
