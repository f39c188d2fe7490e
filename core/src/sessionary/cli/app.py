"""The top-level ``sessionary`` group."""

from __future__ import annotations

import click

from sessionary import __version__
from sessionary.cli.lazy import LazyGroup

__all__ = ["DB_OPTION_HELP", "main"]

DB_OPTION_HELP = "Store URL, e.g. sqlite:///tmp/agent.db (default: $SESSIONARY_DB)."


@click.group(
    cls=LazyGroup,
    lazy={
        "plugins": "sessionary.cli.plugins:plugins",
        "sessions": "sessionary.cli.sessions:sessions",
        "migrate": "sessionary.cli.admin:migrate",
        "doctor": "sessionary.cli.doctor:doctor",
        "import-agno": "sessionary.cli.agno_import:import_agno",
        "demo": "sessionary.cli.demo:demo",
    },
)
@click.version_option(__version__, prog_name="sessionary")
def main() -> None:
    """Sessionary: sessions for AI agents and teams."""
