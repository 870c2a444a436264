"""Ctrl-C and SIGTERM held while a transaction writes its last rows and commits.

A signal raises KeyboardInterrupt wherever Python happens to be: inside
psycopg's COPY (whose clean-up then fails in turn, a chain of tracebacks) or
during the commit itself (after which "nothing was written" is false). Inside
`held_signals` a signal is only recorded. `check()` raises it at a point the
caller chose, before its commit, so the transaction rolls back as a whole; a
signal that arrives later, during the commit, is raised once the block is
left, carrying `kept` (what the commit stored) for the one line the CLI prints.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from seldb.errors import Terminated

HELD = (signal.SIGINT, signal.SIGTERM)


class HeldSignals:
    """The first signal that came while held, as the exception it would have raised."""

    def __init__(self) -> None:
        self.pending: KeyboardInterrupt | None = None

    def record(self, signum: int, frame) -> None:
        if self.pending is None:
            self.pending = Terminated() if signum == signal.SIGTERM else KeyboardInterrupt()

    def check(self) -> None:
        """Raise the signal that came since the block began (call it before the commit)."""
        pending, self.pending = self.pending, None
        if pending is not None:
            raise pending


@contextlib.contextmanager
def held_signals(kept: str) -> Iterator[HeldSignals]:
    """SIGINT and SIGTERM recorded, not raised, inside the block (on the main thread; elsewhere Python
    delivers no signal anyway). A signal not raised by `check()` is raised on leaving, with `kept`."""
    held = HeldSignals()
    if threading.current_thread() is not threading.main_thread():
        yield held
        return
    previous = {sig: signal.signal(sig, held.record) for sig in HELD}
    try:
        yield held
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if held.pending is not None:  # came after the last check, during the commit: the rows are stored
        setattr(held.pending, "kept", kept)  # noqa: B010  (KeyboardInterrupt declares no such attribute)
        raise held.pending
