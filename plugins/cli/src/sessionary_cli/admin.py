"""``sessionary migrate``: bring a store's schema up to date."""

from __future__ import annotations

import json

import click

from sessionary.storage.backend import SchemaStatus
from sessionary.storage.base import Store
from sessionary_cli.errors import ExitCode, fail, handle_errors
from sessionary_cli.options import db_option, json_option, open_store

__all__ = ["migrate"]


@click.command()
@db_option
@click.option("--check", is_flag=True, help="Only report whether a migration is needed.")
@json_option
@handle_errors
def migrate(db_url: str | None, check: bool, as_json: bool) -> None:
    """Upgrade the store's schema to the one this version writes."""
    with open_store(db_url) as store:
        status = store.schema_status()
        if as_json:
            _json_report(store, status, check)
            return
        click.echo(f"schema version {status.current} (latest {status.latest})")
        if status.current > status.latest:
            fail(
                f"the store was written by a newer schema ({status.current}) than this "
                f"sessionary knows ({status.latest}): upgrade sessionary",
                ExitCode.SCHEMA,
            )
        if not status.needs_migration:
            click.echo("up to date")
            return
        if check:
            fail("the store needs a migration: run sessionary migrate", ExitCode.SCHEMA)
        for step in store.migrate():
            click.echo(f"  {step}")
        click.echo(f"migrated to schema version {store.schema_status().current}")


def _json_report(store: Store, status: SchemaStatus, check: bool) -> None:
    """``migrate --json``: the versions, the steps taken, then the same exit codes."""
    steps: list[str] = []
    if status.current <= status.latest and status.needs_migration and not check:
        steps = [str(step) for step in store.migrate()]
    now = store.schema_status() if steps else status
    report = {
        "schema_before": status.current,
        "schema": now.current,
        "latest": now.latest,
        "needs_migration": now.needs_migration,
        "steps": steps,
    }
    click.echo(json.dumps(report, indent=2))
    if now.current > now.latest or now.needs_migration:
        raise SystemExit(int(ExitCode.SCHEMA))
