"""A click group whose subcommands are imported only when used, and that never ends in
a traceback."""

from __future__ import annotations

import importlib
from typing import Any

import click

from sessionary_cli.errors import code_for, fail, message_for

__all__ = ["LazyGroup"]


class LazyGroup(click.Group):
    """Subcommands given as ``{"name": "module:attribute"}``, imported on first use.

    Whatever a subcommand raises ends as one ``error: ...`` line and an exit code
    (:func:`~sessionary_cli.errors.code_for`), never as a traceback.
    """

    def __init__(self, *args: object, lazy: dict[str, str] | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            return super().get_command(ctx, cmd_name)
        module_name, _, attribute = target.partition(":")
        command = getattr(importlib.import_module(module_name), attribute)
        if not isinstance(command, click.Command):
            raise TypeError(f"{target} is not a click command")
        return command

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.ClickException, click.exceptions.Exit, click.Abort):
            raise
        except Exception as exc:
            fail(message_for(exc), code_for(exc))
