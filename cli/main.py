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


def _stopped(exc: BaseException, what: str) -> None:
    terminated = type(exc).__name__ == "Terminated"
    sys.stderr.write(f"{'terminated (SIGTERM)' if terminated else 'interrupted'}: {what}\n")
    sys.exit(143 if terminated else 130)


def main() -> None:
    try:
        signal.signal(signal.SIGTERM, on_sigterm)  # handled like Ctrl-C: cleanup, one line, exit 143
        from seldb_cli import ray_driver

        if ray_driver.is_child():
            ray_driver.start_child()
        elif ray_driver.wanted(sys.argv[1:]):  # a Ray driver can be ended by Ray itself: watched from here
            ray_driver.supervise("seldb_cli.main", sys.argv[1:])
        from typer.main import get_command

        from seldb_cli.app import app

        command = get_command(app)
    except KeyboardInterrupt as exc:
        _stopped(exc, "stopped while starting; nothing was written")
    try:
        command()
    except SystemExit as exc:
        # typer turns a signal outside the command itself (while parsing, or after it returned) into a silent
        # exit 130, even SIGTERM's: say which, and in which phase
        signalled = exc.__context__.__cause__ if exc.__context__ is not None else None
        if isinstance(signalled, KeyboardInterrupt):
            from seldb_cli import common

            _stopped(signalled, "after the command finished" if common.began else "nothing was written")
        raise
    except KeyboardInterrupt as exc:  # a signal while typer reports a usage error (it imports rich then)
        from seldb_cli import common

        _stopped(exc, "after the command finished" if common.began else "nothing was written")


def __getattr__(name: str):
    if name == "app":  # `from seldb_cli.main import app`, as before the app moved
        from seldb_cli.app import app

        return app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


if __name__ == "__main__":
    main()
