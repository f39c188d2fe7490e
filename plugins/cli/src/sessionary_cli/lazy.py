"""A click group whose subcommands are imported only when used, and that never ends in
a traceback."""

from __future__ import annotations

import importlib
from typing import Any

import click

from sessionary_cli.errors import code_for, fail, message_for

__all__ = ["LazyGroup", "plugin_commands"]


class LazyGroup(click.Group):
    """Subcommands given as ``{"name": "module:attribute"}``, imported on first use.

    With ``plugins=True`` the commands plugins add through the ``sessionary_cli_commands``
    hook are subcommands too (looked up only for a name that is not a built-in one, and
    for ``--help``). Whatever a subcommand raises ends as one ``error: ...`` line and an
    exit code (:func:`~sessionary_cli.errors.code_for`), never as a traceback.
    """

    def __init__(
        self,
        *args: object,
        lazy: dict[str, str] | None = None,
        plugins: bool = False,
        **kwargs: object,
    ) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.lazy = dict(lazy or {})
        self.plugins = plugins

    def list_commands(self, ctx: click.Context) -> list[str]:
        names = {*super().list_commands(ctx), *self.lazy}
        if self.plugins:
            names |= set(plugin_commands(names))
        return sorted(names)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = self.lazy.get(cmd_name)
        if target is None:
            found = super().get_command(ctx, cmd_name)
            if found is None and self.plugins:
                names = {*super().list_commands(ctx), *self.lazy}
                return plugin_commands(names).get(cmd_name)
            return found
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


def plugin_commands(builtin: set[str]) -> dict[str, click.Command]:
    """The commands plugins add (``sessionary_cli_commands``), by name.

    A plugin that returns something other than a click command, or a name that a
    built-in command or another plugin has, is a :class:`click.ClickException` that
    names the plugin(s): nothing is guessed.
    """
    from sessionary.plugins.manager import DISABLE_ENV, get_plugin_host

    found: dict[str, tuple[click.Command, str]] = {}
    caller = get_plugin_host().hook.sessionary_cli_commands
    for impl in reversed(caller.get_hookimpls()):
        plugin = impl.plugin_name
        for command in impl.function() or ():
            if not isinstance(command, click.Command) or not command.name:
                raise click.ClickException(
                    f"plugin {plugin!r} returned {command!r} from sessionary_cli_commands, "
                    f"not a named click command"
                )
            name = command.name
            if name in builtin:
                raise click.ClickException(
                    f"plugin {plugin!r} adds the command {name!r}, which is a built-in "
                    f"command of sessionary; block it with {DISABLE_ENV}={plugin}"
                )
            if name in found:
                raise click.ClickException(
                    f"the command {name!r} is added by two plugins, {found[name][1]!r} and "
                    f"{plugin!r}; uninstall one or block it with {DISABLE_ENV}"
                )
            found[name] = (command, plugin)
    return {name: command for name, (command, _) in found.items()}
