"""The ``sessionary`` command line: ``plugins``, ``sessions``, ``migrate``, ``demo``.

Subcommands are imported when invoked, so ``sessionary --help`` stays quick.
"""

from __future__ import annotations

from sessionary_cli.app import main

__all__ = ["main"]
