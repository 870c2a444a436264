"""What every command shares: one-line errors, the console, output formats.

Commands stay thin: parse arguments, call one seldb function, print. Errors
meant for the user (SeldbError) become one red line on stderr and exit code 1;
Ctrl-C becomes exit code 130 without a traceback.
"""

from __future__ import annotations

import functools
import sys
from typing import Callable

import typer
from rich.console import Console
from rich.markup import escape

from seldb.errors import SeldbError

console = Console()
err_console = Console(stderr=True)


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


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
