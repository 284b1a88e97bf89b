"""What every command group shares: consoles, settings, `--tenant` lookup, help rendering."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table
from typer.core import TyperCommand, TyperGroup, TyperOption

from stocksync.config import Settings, SettingsError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from stocksync.app.service import Stocksync
    from stocksync.app.tenants import TenantInfo

# Exit codes (documented in the README): 0 done, 1 failed, 2 bad usage (unknown tenant,
# bad value), 3 reconcile found drift.
EXIT_FAILED, EXIT_USAGE, EXIT_DRIFT = 1, 2, 3
# Not a terminal (a pipe, a file, CI): never cut a table or a line to a made-up width.
PIPE_WIDTH = 4000


def _console(stderr: bool = False) -> Console:
    stream = sys.stderr if stderr else sys.stdout
    tty = hasattr(stream, "isatty") and stream.isatty()
    # On a terminal rich measures the real width (and follows COLUMNS when set).
    return Console(stderr=stderr) if tty else Console(stderr=stderr, width=PIPE_WIDTH)


console = _console()
err = _console(stderr=True)


def _blank_flag_metavars(params: list[Any]) -> list[Any]:
    # typer shows every flag's type as "<bool>" (even --help); a flag takes no value.
    # (typer vendors its own click: its classes are not click's.)
    for param in params:
        if isinstance(param, TyperOption) and param.is_flag:
            param.metavar = ""
    return params


class FlagsCommand(TyperCommand):
    def get_params(self, ctx: Any) -> list[Any]:
        return _blank_flag_metavars(super().get_params(ctx))


class FlagsGroup(TyperGroup):
    def get_params(self, ctx: Any) -> list[Any]:
        return _blank_flag_metavars(super().get_params(ctx))


def command_group(help_text: str) -> typer.Typer:
    return typer.Typer(help=help_text, no_args_is_help=True, cls=FlagsGroup,
                       pretty_exceptions_enable=False)


def table(title: str, *columns: str, right: tuple[str, ...] = ()) -> Table:
    """A table whose cells wrap instead of being cut short with an ellipsis."""
    found = Table(title=title)
    for column in columns:
        found.add_column(column, overflow="fold",
                         justify="right" if column in right else "left")
    return found


DbOption = Annotated[str | None, typer.Option("--database-url", envvar="STOCKSYNC_DATABASE_URL",
                                              help="SQLAlchemy URL (default sqlite file)")]
TenantOption = Annotated[str, typer.Option("--tenant", help="tenant id or name")]


def settings(database_url: str | None = None, **overrides: Any) -> Settings:
    try:
        return Settings.from_env(database_url=database_url, **overrides)
    except SettingsError as exc:
        raise fail(str(exc)) from exc


def fail(message: str, code: int = EXIT_USAGE) -> typer.Exit:
    """Print an error and return the Exit to raise."""
    err.print(f"[red]error:[/red] {escape(message)}", soft_wrap=True, highlight=False)
    return typer.Exit(code)


def tenant_or_exit(svc: Stocksync, ref: str) -> TenantInfo:
    """The tenant named by id or name; exit 2 with a clear message when there is none."""
    found = svc.tenants.resolve(ref)
    if found is None:
        raise fail(f"no tenant {ref!r} (give a tenant id or name; `stocksync tenants list` "
                   "shows them)")
    return found


@contextmanager
def writing(svc: Stocksync) -> Iterator[Connection]:
    """A write transaction (on SQLite it takes the write lock first: a read followed by a
    write could not upgrade its lock while the server writes)."""
    from stocksync.storage.engine import WRITE

    with svc.engine.connect().execution_options(**WRITE) as conn, conn.begin():
        yield conn
