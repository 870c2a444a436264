"""The import's check-and-copy pass, run beside the measuring rather than before it.

Every layer is read once by rows before its blocks of units can be measured:
to find NaN and infinities, and (for the row-major layouts most files use)
to write it units-first into a temporary file (seldb.h5.unitmajor). At the
paper's scale that pass was a third of an import, all of it spent before
the first unit was measured.

With `--nan-policy error` (the default) the measuring needs only one thing
from the pass: that a layer holds no bad value. So the pass runs on a thread
of its own, layer after layer, while the worker threads measure the layers
it has finished; a worker about to read a block of layer L first waits for
L's pass (`ready`). A bad value in any layer stops the import with the same
one line as a pass run first would give; the import's transaction is rolled
back, so nothing is written. `--nan-policy drop` needs every layer's bad
rows before anything is measured (they are left out of every layer), and a
Ray cluster's workers read the file themselves: those imports run the pass
first (`nonfinite_rows`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future

import numpy as np

from seldb.engine.blocks import in_background, wait
from seldb.errors import InputError, plural
from seldb.h5.reader import ActivationFile


def nonfinite_error(afile: ActivationFile, layer: str, rows: np.ndarray) -> InputError:
    """The one line for `--nan-policy error`: the first bad image of the first bad layer."""
    return InputError(
        f"{afile.path}: /layers/{layer}: NaN or infinite activation in image {int(rows[0])}"
        f" ({plural(rows.size, 'such image')}; --nan-policy drop drops them from every layer)"
    )


class CheckPass:
    """The check-and-copy pass over `layers`, in order, on a background thread (see the module)."""

    def __init__(self, afile: ActivationFile, layers: Sequence[str]):
        self.afile, self.layers = afile, list(layers)
        self._done: dict[str, Future[None]] = {layer: Future() for layer in self.layers}
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._running: Future[None] | None = None
        self.on_rows: Callable[[int], None] | None = None  # progress, while someone shows it
        self.wall_s = self.cpu_s = self.waited_s = 0.0
        self._waiters, self._wait_started = 0, 0.0

    def start(self) -> CheckPass:
        """Make room for every layer's copy (so blocks can be planned now), then start the pass."""
        self.afile.start_copies(self.layers)
        self._running = in_background(self._run)  # signals stay with the calling thread, as for the workers
        return self

    def _run(self) -> None:
        started, cpu = time.perf_counter(), time.thread_time()
        try:
            for i, layer in enumerate(self.layers):
                try:
                    bad = self.afile.check_and_copy(layer, self._advance, self._stop)
                    if self._stop.is_set():
                        raise RuntimeError(f"the check-and-copy pass was stopped before /layers/{layer} was done")
                    if bad.size:
                        raise nonfinite_error(self.afile, layer, bad)
                except BaseException as exc:  # this layer and every later one fail with it
                    for rest in self.layers[i:]:
                        self._done[rest].set_exception(exc)
                    return
                self._done[layer].set_result(None)
        finally:
            self.wall_s, self.cpu_s = time.perf_counter() - started, time.thread_time() - cpu

    def _advance(self, rows: int) -> None:
        if (on_rows := self.on_rows) is not None:
            on_rows(rows)

    def ready(self, layer: str) -> None:
        """Wait until `layer` is checked and copied; raise what the pass found wrong with it."""
        done = self._done.get(layer)
        if done is None:
            return
        if not done.done():
            self._waiting(+1)
            try:
                done.exception()  # waits
            finally:
                self._waiting(-1)
        done.result()

    def _waiting(self, change: int) -> None:
        """Count the time at least one worker waits (`waited_s`: wall seconds, not summed over workers)."""
        with self._lock:
            now = time.perf_counter()
            if self._waiters == 0:
                self._wait_started = now
            self._waiters += change
            if self._waiters == 0:
                self.waited_s += now - self._wait_started

    def raise_if_failed(self) -> None:
        """Raise now what the pass has already found wrong (before the database is touched)."""
        for done in self._done.values():
            if done.done() and done.exception() is not None:
                done.result()

    def finished(self) -> bool:
        return all(done.done() for done in self._done.values())

    def stop(self) -> None:
        """End the pass (an error or Ctrl-C elsewhere) before the file and its copies close under it."""
        self._stop.set()
        if self._running is not None:
            wait(self._running)
