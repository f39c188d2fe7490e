"""``sessionary plugins``: what is installed, with versions and hooks.

A plugin that registers a name another plugin registers too is shown with the status
``clash`` and the error using that name would raise, on both rows.
"""

from __future__ import annotations

import json

import attrs
import click
from rich.console import Console
from rich.table import Table

from sessionary.plugins.manager import PluginRecord, get_plugin_host

__all__ = ["plugins"]


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def plugins(as_json: bool) -> None:
    """List installed plugins: name, distribution, version, status and hooks."""
    records = with_clashes(get_plugin_host().records)
    if as_json:
        click.echo(json.dumps([attrs.asdict(r) for r in records], indent=2))
        return
    table = Table(title="Sessionary plugins")
    for column in ("name", "distribution", "version", "status", "hooks"):
        table.add_column(column)
    for r in records:
        status = r.status if r.error is None else f"{r.status}: {r.error}"
        table.add_row(r.name, r.distribution or "", r.version or "", status, "\n".join(r.hooks))
    Console().print(table)


def with_clashes(records: list[PluginRecord]) -> list[PluginRecord]:
    """``records`` with each plugin in a clash marked ``clash``, the errors as its error."""
    errors: dict[str, list[str]] = {}
    for clash in get_plugin_host().clashes():
        for name in clash.plugins:
            errors.setdefault(name, []).append(clash.message)
    return [
        attrs.evolve(r, status="clash", error="; ".join(errors[r.name])) if r.name in errors else r
        for r in records
    ]
