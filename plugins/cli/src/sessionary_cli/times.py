"""Times on the command line: ``--active-after 2026-01-31`` or ``--active-after 1769817600``."""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

import click

__all__ = ["TIME", "TimeParam"]


class TimeParam(click.ParamType):
    """An ISO 8601 date or date and time (local time unless it names a zone), or seconds
    since the epoch; the value is seconds since the epoch."""

    name = "TIME"

    def convert(
        self, value: Any, param: click.Parameter | None, ctx: click.Context | None
    ) -> float:
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return float(value)
        text = str(value).strip()
        try:
            seconds = float(text)
        except ValueError:
            pass
        else:
            if math.isfinite(seconds):
                return seconds
            self.fail(f"{value!r} is not a time", param, ctx)
        try:
            moment = dt.datetime.fromisoformat(text)
        except ValueError:
            self.fail(
                f"{value!r} is not a time: give ISO 8601 (2026-01-31 or 2026-01-31T09:30, "
                "with +00:00 for UTC) or seconds since the epoch",
                param,
                ctx,
            )
        return moment.timestamp()  # a naive time is local time


#: The one instance the options use.
TIME = TimeParam()
