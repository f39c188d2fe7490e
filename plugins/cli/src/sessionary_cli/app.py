"""The top-level ``sessionary`` group."""

from __future__ import annotations

import click

from sessionary import __version__
from sessionary_cli.lazy import LazyGroup

__all__ = ["DB_OPTION_HELP", "main"]

DB_OPTION_HELP = "Store URL, e.g. sqlite:///tmp/agent.db (default: $SESSIONARY_DB)."


@click.group(
    cls=LazyGroup,
    plugins=True,
    lazy={
        "plugins": "sessionary_cli.plugins:plugins",
        "sessions": "sessionary_cli.sessions:sessions",
        "migrate": "sessionary_cli.admin:migrate",
        "doctor": "sessionary_cli.doctor:doctor",
        "import-agno": "sessionary_cli.agno_import:import_agno",
        "demo": "sessionary_cli.demo:demo",
    },
)
@click.version_option(__version__, prog_name="sessionary")
def main() -> None:
    """Sessionary: sessions for AI agents and teams.

    Installed plugins add commands of their own (sessionary-web adds ``serve``).
    """
