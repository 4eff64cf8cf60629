"""A command group that imports a command's module only when that command runs.

Every command module pulls in the heavy stack (pandas, geopandas, pyarrow, FastAPI): importing
them all made ``hotspots --help`` take 2-4 s. Here a command is a name, the module and attribute
that define it, and its one-line help; ``--help`` lists those lines and imports nothing else
(benchmarks/cli_startup.py measures it). tests/test_cli_lazy.py checks that each line matches the
command's own help, so the two cannot drift apart.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, ClassVar

import typer
from typer import _click
from typer.core import TyperCommand, TyperGroup


@dataclass(frozen=True)
class LazyCommand:
    """Where a command lives (``module:attribute``: a command function or a Typer group) and
    the line ``hotspots --help`` shows for it."""

    target: str
    help: str

    def load(self, name: str) -> _click.Command:
        module_name, attribute = self.target.split(":")
        defined = getattr(importlib.import_module(module_name), attribute)
        if isinstance(defined, typer.Typer):
            group = typer.main.get_group(defined)  # a group even with one command (keys add)
            _plain_help(group)
            _name_the_command_in_usage_errors(group)
            return group
        # Plain click help, as for the command list: Rich's panels cut long option names
        # ("--exclude-police-g…") at 80 columns and break paragraphs where the docstring does.
        single = typer.Typer(add_completion=False, rich_markup_mode=None)
        single.command(name)(defined)
        command = typer.main.get_command(single)
        _name_the_command_in_usage_errors(command)
        return command


def _plain_help(command: _click.Command) -> None:
    """The same plain click help for a group and every command under it as for a single
    command (below): no Rich boxes, no ``<bool>`` type labels, one layout for the whole CLI."""
    if hasattr(command, "rich_markup_mode"):
        command.rich_markup_mode = None
    for sub in getattr(command, "commands", {}).values():
        _plain_help(sub)


def _name_the_command_in_usage_errors(command: _click.Command) -> None:
    """Give a usage error raised while ``command`` (and every command under it) parses its
    arguments the command's context. Click leaves some without one ("Option '--boundaries'
    requires an argument"), and cli/main.usage_error would then point at `hotspots --help`
    rather than `hotspots analyse --help`."""
    parse_args = command.parse_args

    def parse_args_in_context(ctx: _click.Context, args: list[str]) -> list[str]:
        try:
            return parse_args(ctx, args)
        except _click.exceptions.UsageError as error:
            if error.ctx is None:
                error.ctx = ctx
            raise

    command.parse_args = parse_args_in_context  # type: ignore[method-assign]
    for sub in getattr(command, "commands", {}).values():
        _name_the_command_in_usage_errors(sub)


class LazyGroup(TyperGroup):
    """A Typer group whose commands are LazyCommands; subclasses set ``lazy_commands``."""

    lazy_commands: ClassVar[dict[str, LazyCommand]] = {}

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        self._loaded: dict[str, _click.Command] = {}

    def list_commands(self, ctx: _click.Context) -> list[str]:
        return [*super().list_commands(ctx), *self.lazy_commands]

    def get_command(self, ctx: _click.Context, cmd_name: str) -> _click.Command | None:
        """For help listings: the loaded command if it ran, else a stand-in with its help."""
        if cmd_name in self._loaded:
            return self._loaded[cmd_name]
        lazy = self.lazy_commands.get(cmd_name)
        if lazy is None:
            return super().get_command(ctx, cmd_name)
        return TyperCommand(name=cmd_name, help=lazy.help, short_help=lazy.help)

    def resolve_command(
        self, ctx: _click.Context, args: list[str]
    ) -> tuple[str | None, _click.Command | None, list[str]]:
        """The command that will run: imported now, and only this one."""
        name = args[0] if args else None
        if name in self.lazy_commands:
            self._loaded[name] = self.load(name)
            return name, self._loaded[name], args[1:]
        try:
            return super().resolve_command(ctx, args)
        except _click.exceptions.UsageError as error:
            close = _click_close_matches(name, self.lazy_commands)
            if close:
                error.message = f"{error.message.rstrip('.')}. Did you mean {close}?"
            raise

    def load(self, name: str) -> _click.Command:
        """The real command ``name`` (imports its module)."""
        return self.lazy_commands[name].load(name)


def _click_close_matches(name: str | None, names: dict[str, LazyCommand]) -> str:
    from difflib import get_close_matches

    return ", ".join(repr(match) for match in get_close_matches(name or "", list(names)))
