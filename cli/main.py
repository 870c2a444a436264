"""The `seldb` command: one typer app assembled from the command modules.

`main` is the executable's first code. It handles SIGTERM and Ctrl-C before
the half second that importing typer, rich and the command modules takes, so
that a signal at any moment ends in one line (exit 143 or 130), never in a
traceback or a silent kill; the app itself is built on first use
(`seldb_cli.main.app`, seldb_cli/app.py).
"""

from __future__ import annotations

import signal
import sys


def on_sigterm(signum, frame) -> None:
    from seldb.errors import Terminated  # here, not above: this module is imported before any handler is set

    raise Terminated()


def _stopped_while_starting(exc: KeyboardInterrupt) -> None:
    terminated = type(exc).__name__ == "Terminated"
    word = "terminated (SIGTERM)" if terminated else "interrupted"
    sys.stderr.write(f"{word}: stopped while starting; nothing was written\n")
    sys.exit(143 if terminated else 130)


def main() -> None:
    try:
        signal.signal(signal.SIGTERM, on_sigterm)  # handled like Ctrl-C: cleanup, one line, exit 143
        from seldb_cli.app import app
    except KeyboardInterrupt as exc:
        _stopped_while_starting(exc)
    app()


def __getattr__(name: str):
    if name == "app":  # `from seldb_cli.main import app`, as before the app moved
        from seldb_cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
