"""`--engine ray` commands run in a child process that `seldb` watches, so that even Ray's own exit is one line.

When a Ray process that a driver depends on dies (its node's raylet, the
object store, the GCS), Ray ends the driver itself: its core worker calls
`_Exit(1)` from a thread of its own, with no exception, no Python cleanup
and no message, and the command would exit 1 in silence. So `seldb`, given
`--engine ray`, runs its own command line again in a child process (the Ray
driver) and waits for it:

- the child tells this process through a pipe that it ends through Python
  (an atexit hook, which `_Exit` skips): its own line, if any, is printed
  and its exit status is passed on;
- a child that ends without telling gets one line from here, exit status 1.
  Its database transaction died with it, so PostgreSQL kept nothing of it.

Ray's messages meant for a developer (its C++ logs on the driver's stderr,
its error listener's reports on stdout, its Python loggers) go to a log file
that the line names, never to the terminal. Ctrl-C reaches the child from
the terminal (one process group); SIGTERM sent to `seldb` is passed on.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import logging
import os
import signal
import subprocess
import sys
import tempfile
from typing import NoReturn

from seldb_cli.common import err_console

CHILD_ENV = "SELDB_RAY_DRIVER"  # in the child: "FD:LOG", the pipe's write end and the log file
DONE = b"exited"
# What each command leaves behind when its driver is stopped (by default: one transaction, gone)
KEPT = {"ingest": "the recorded chunks are kept: run the same command again to resume"}
RAYLET_DIED = ("Raylet is terminated", "local Raylet is dead", "has been marked dead")


def wanted(args: list[str]) -> bool:
    """Whether the command line asks for the Ray engine."""
    return "--engine=ray" in args or any(a == "--engine" and b == "ray" for a, b in zip(args, args[1:]))


def is_child() -> bool:
    return CHILD_ENV in os.environ


def supervise(module: str, args: list[str]) -> NoReturn:
    """Run `python -c 'from MODULE import main; main()' ARGS` as the Ray driver, wait, exit as it did."""
    read_end, write_end = os.pipe()
    fd, log_path = tempfile.mkstemp(prefix="seldb-ray-", suffix=".log")
    os.close(fd)
    code = f"import sys; sys.argv[0] = sys.argv.pop(1); from {module} import main; main()"
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the terminal's Ctrl-C reaches the child: it answers
    child = subprocess.Popen(
        [sys.executable, "-c", code, sys.argv[0], *args],
        pass_fds=(write_end,),
        env={**os.environ, CHILD_ENV: f"{write_end}:{log_path}"},
        preexec_fn=_die_with_parent,  # runs on this, the main thread: see seldb.engine.ray_blocks._start_own
    )
    os.close(write_end)
    signal.signal(signal.SIGTERM, lambda signum, frame: child.send_signal(signal.SIGTERM))
    status = child.wait()
    os.set_blocking(read_end, False)  # a process the child started might hold the pipe: never wait on it
    try:
        reported = os.read(read_end, len(DONE)) == DONE
    except BlockingIOError:
        reported = False
    if reported:
        os.unlink(log_path)
        sys.exit(status)
    err_console.print(f"[bold red]error:[/] {_stopped_line(args, status, log_path)}", highlight=False, soft_wrap=True)
    sys.exit(1)


def _stopped_line(args: list[str], status: int, log_path: str) -> str:
    how = f"killed by signal {-status}" if status < 0 else f"exit status {status}"
    try:
        with open(log_path, errors="replace") as log:
            said = log.read()
    except OSError:
        said = ""
    what = "its raylet died" if any(phrase in said for phrase in RAYLET_DIED) else "a process it needs died"
    command = next((a for a in args if not a.startswith("-")), "")
    kept = KEPT.get(command, "nothing was written")
    return f"Ray stopped this command ({how}): {what}; {kept}. Ray's messages: {log_path}"


def _die_with_parent() -> None:
    """In the child before it starts: Ctrl-C as usual (the parent's SIG_IGN would be inherited), and
    SIGTERM if `seldb` itself is killed (Linux)."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(1, signal.SIGTERM, 0, 0, 0)  # 1: PR_SET_PDEATHSIG


def start_child() -> None:
    """In the child: report a Python exit to the parent, and send Ray's messages to the log file."""
    fd, _, log_path = os.environ.pop(CHILD_ENV).partition(":")
    atexit.register(os.write, int(fd), DONE)
    log = open(log_path, "a", buffering=1, errors="backslashreplace")  # noqa: SIM115 - open for the process's life
    terminal = os.dup(2)
    os.dup2(log.fileno(), 2)  # C-level writes (Ray's C++ logs) go to the log ...
    sys.stderr = open(terminal, "w", buffering=1, errors="backslashreplace")  # noqa: SIM115 - ... Python's to the terminal
    from seldb.engine.ray_blocks import import_ray
    from seldb.errors import InputError

    try:
        ray_worker = import_ray()._private.worker
    except InputError:  # the command says how to install Ray
        return
    # Ray's error listener prints what the cluster reports on stdout; seldb says it in one line instead
    ray_worker.print_to_stdstream = lambda data, ignore_prefix: log.write("\n".join(data.get("lines", [])) + "\n")
    for handler in logging.getLogger("ray").handlers:
        if isinstance(handler, logging.StreamHandler) and not isinstance(handler, logging.FileHandler):
            handler.setStream(log)
