"""``sessionary migrate``: bring a store's schema up to date."""

from __future__ import annotations

import click

from sessionary_cli.errors import ExitCode, fail, handle_errors
from sessionary_cli.options import db_option, open_store

__all__ = ["migrate"]


@click.command()
@db_option
@click.option("--check", is_flag=True, help="Only report whether a migration is needed.")
@handle_errors
def migrate(db_url: str | None, check: bool) -> None:
    """Upgrade the store's schema to the one this version writes."""
    with open_store(db_url) as store:
        status = store.schema_status()
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
