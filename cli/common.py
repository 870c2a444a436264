"""What every command shares: the database handle, one-line errors, the consoles, list options.

Commands stay thin: parse arguments, call one method of a `seldb.connect()`
handle, print. Errors meant for the user (SeldbError) become one red line on
stderr and exit code 1; Ctrl-C becomes exit code 130 without a traceback.
"""

from __future__ import annotations

import contextlib
import functools
import sys
from typing import Callable, Iterator, Optional

import typer
from rich.console import Console
from rich.markup import escape

from seldb.errors import InputError, SeldbError

console = Console()
err_console = Console(stderr=True)


@contextlib.contextmanager
def database() -> Iterator["seldb.api.Seldb"]:  # noqa: F821
    """The command's one handle on the database (SELDB_DATABASE_URL or the embedded server)."""
    import seldb

    with seldb.connect() as db:
        yield db


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def friendly(func: Callable) -> Callable:
    """Turn SeldbError and Ctrl-C into one line and an exit code."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        try:
            return func(*args, **kwargs)
        except SeldbError as exc:
            fail(str(exc))
        except KeyboardInterrupt:
            err_console.print("interrupted: nothing was written", highlight=False)
            sys.exit(130)

    return wrapper


def confirmed(question: str, yes: bool) -> bool:
    """Ask on a terminal; scripts and pipes (no TTY) proceed, as with --yes."""
    if yes or not sys.stdin.isatty():
        return True
    return typer.confirm(question)


def split_list(text: Optional[str]) -> Optional[list[str]]:
    """'a, b,,c' -> ['a', 'b', 'c']; None or empty -> None."""
    parts = [part.strip() for part in text.split(",") if part.strip()] if text else []
    return parts or None


def int_list(text: Optional[str], option: str) -> Optional[list[int]]:
    """'60,100' -> [60, 100], or one InputError line naming the option."""
    try:
        return [int(part) for part in split_list(text) or []] or None
    except ValueError:
        raise InputError(f"{option} takes comma-separated integers, e.g. 60,100; got {text!r}") from None
