"""The pluggy markers of the ``sessionary`` project."""

from __future__ import annotations

import pluggy

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "sessionary"
#: Decorates a hook specification in :mod:`sessionary.hookspecs`.
hookspec = pluggy.HookspecMarker(PROJECT)
#: What plugin authors decorate their hook implementations with.
hookimpl = pluggy.HookimplMarker(PROJECT)
