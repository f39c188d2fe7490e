"""Times on the command line: ``--active-after 2026-01-31`` or ``--active-after 1769817600``."""

from __future__ import annotations

import datetime as dt
import math

import click

__all__ = ["parse_time"]


def parse_time(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    """An option's time as seconds since the epoch: an ISO 8601 date or date and time
    (local time unless it names a zone), or seconds since the epoch (a click callback)."""
    if value is None:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        if math.isfinite(seconds):
            return seconds
        raise click.BadParameter(f"{value!r} is not a time", ctx, param)
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not a time: give ISO 8601 (2026-01-31 or 2026-01-31T09:30, "
            "with +00:00 for UTC) or seconds since the epoch",
            ctx,
            param,
        ) from None
    return moment.timestamp()  # a naive time is local time
