"""What every command shares: the database handle, one-line errors, the consoles, list options.

Commands stay thin: parse arguments, call one method of a `seldb.connect()`
handle, print. Errors meant for the user (SeldbError) become one red line on
stderr and exit code 1; Ctrl-C becomes exit code 130 without a traceback.
Anything else a command raises (a bug, or code the user handed us calling
sys.exit) is one line too, naming the exception; SELDB_TRACEBACK=1 shows the
traceback instead. Control characters of a message (read from a user's file)
are printed escaped, so that a line can neither span lines nor drive the terminal.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
import unicodedata
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import click
import typer
from rich.console import Console
from rich.markup import escape

from seldb.errors import InputError, SeldbError, Terminated

if TYPE_CHECKING:
    from seldb.api import Seldb

# soft_wrap: lines are never broken by rich (a terminal wraps them itself; a pipe or log gets whole lines)
# Which network a command runs (seldb ingest, seldb dissect): one spelling of each option
ModelName = Annotated[str | None, typer.Option("--model", help="Registry name (see `seldb models`).")]
Weights = Annotated[Path | None, typer.Option("--weights", help="Weights file (.pth, .pth.tar, state dict).")]
Arch = Annotated[
    str | None, typer.Option("--arch", help="Any torchvision architecture (with --weights and --num-classes).")
]
NumClasses = Annotated[int | None, typer.Option("--num-classes", help="Outputs of --arch's last layer.")]
ModelModule = Annotated[
    str | None,
    typer.Option("--model-module", help="FILE.py:FUNCTION (or package.module:FUNCTION) returning an nn.Module."),
]

# no emoji codes: a user's text such as "--device cuda:x:" must print as typed, not as a glyph
console = Console(soft_wrap=True, emoji=False)
err_console = Console(stderr=True, soft_wrap=True, emoji=False)


@contextlib.contextmanager
def database() -> Iterator[Seldb]:
    """The command's one handle on the database (SELDB_DATABASE_URL or the embedded server)."""
    import seldb

    with seldb.connect() as db:
        yield db


def printable(text: str) -> str:
    """The text with control and format characters written as escapes ('\\x1b', '\\n', '\\u202e'): one line
    that cannot move the cursor, recolour the terminal or reorder what follows."""
    if text.isprintable():
        return text
    return "".join(
        ch.encode("unicode_escape").decode("ascii") if unicodedata.category(ch) in ("Cc", "Cf") else ch for ch in text
    )


def fail(message: str, code: int = 1) -> None:
    err_console.print(f"[bold red]error:[/] {escape(printable(message))}", highlight=False, soft_wrap=True)
    raise typer.Exit(code)


def warn(message: str) -> None:
    err_console.print(f"[yellow]warning:[/] {escape(printable(message))}", highlight=False, soft_wrap=True)


began = False  # a command's own code began (seldb_cli.main tells a signal before it from one after it)


def friendly(func: Callable) -> Callable:
    """Turn SeldbError, an operating system error, Ctrl-C and SIGTERM into one line and an exit code;
    anything else too (see the module's docstring)."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        global began
        began = True
        try:
            return func(*args, **kwargs)
        except (typer.Exit, typer.Abort, click.exceptions.Exit, click.ClickException):  # exits and usage errors
            raise
        except SeldbError as exc:
            fail(str(exc))
        except OSError as exc:  # a full disk, a permission, a file that vanished: what and where
            where = f"{exc.filename}: " if exc.filename else ""
            fail(f"{where}{exc.strerror or exc}; nothing was written")
        except KeyboardInterrupt as exc:  # `kept`: what a library call kept despite the signal (seldb.db.signals)
            interrupted(exc, getattr(exc, "kept", "nothing was written"))
        except SystemExit as exc:  # seldb never calls sys.exit in a command: code it ran for the user did
            fail(f"the command was stopped by sys.exit({exc.code!r}) in code it ran; nothing was written")
        except Exception as exc:
            if os.environ.get("SELDB_TRACEBACK"):
                raise
            fail(f"unexpected {unexpected(exc)} (a bug in seldb; SELDB_TRACEBACK=1 shows where)")

    return wrapper


def unexpected(exc: BaseException) -> str:
    """'ValueError: the first line of its message' (the name alone when the message is empty)."""
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0]}" if lines else type(exc).__name__


def interrupted(exc: KeyboardInterrupt, what: str) -> None:
    """One line for Ctrl-C (exit 130) or SIGTERM (exit 143)."""
    terminated = isinstance(exc, Terminated)
    err_console.print(f"{'terminated (SIGTERM)' if terminated else 'interrupted'}: {what}", highlight=False)
    raise typer.Exit(143 if terminated else 130)  # not sys.exit: friendly() reads a SystemExit as user code's


def confirmed(question: str, yes: bool) -> bool:
    """Ask on a terminal; scripts and pipes (no TTY) proceed, as with --yes."""
    if yes or not sys.stdin.isatty():
        return True
    return typer.confirm(question)


def split_list(text: str | None) -> list[str] | None:
    """'a, b,,c' -> ['a', 'b', 'c']; a comma inside a name is written '\\,' ('conv\\,1' -> 'conv,1');
    None or empty -> None."""
    if not text:
        return None
    parts = [part.replace("\0", ",").strip() for part in text.replace("\\,", "\0").split(",")]
    return [part for part in parts if part] or None


def int_list(text: str | None, option: str) -> list[int] | None:
    """'60,100' -> [60, 100], or one InputError line naming the option."""
    try:
        return [int(part) for part in split_list(text) or []] or None
    except ValueError:
        raise InputError(f"{option} takes comma-separated integers, e.g. 60,100; got {text!r}") from None
