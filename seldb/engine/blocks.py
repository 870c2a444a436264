"""Measuring an activation file block by block: worker threads compute, the caller writes, in order.

An import and a concept measured later for an old run do the same thing:
read blocks of units (the analysed images only), compute something per
block, and hand each result to the database writer in file order. This
module is that loop, once: blocks are read and measured on worker threads
(numpy and polars release the GIL) while the caller's own loop body - the
COPY into PostgreSQL - runs on the calling thread, so reading, measuring
and loading overlap. At most `workers + 1` blocks are in flight, which bounds
memory whatever the file.

The workers are daemon threads of this module's own: when the caller stops
(Ctrl-C, SIGTERM, an error), it returns at once instead of waiting for the
blocks being measured, and the process can exit without them.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
import queue
import signal
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Generic, TypeVar

import numpy as np

from seldb.h5.reader import ActivationFile
from seldb.h5.unitmajor import Buffers
from seldb.progress import progress_bar

T = TypeVar("T")
WORKERS = 2


@dataclass(frozen=True)
class UnitBlock:
    """Units first..stop-1 of one layer (layer_id: the layer's position in the run)."""

    layer_id: int
    layer: str
    first: int
    stop: int

    @property
    def n_units(self) -> int:
        return self.stop - self.first


@dataclass
class Measured(Generic[T]):
    block: UnitBlock
    result: T
    read_s: float
    measure_s: float
    read_cpu_s: float = 0.0  # CPU seconds of the thread that did it (what a loaded machine inflates least)
    measure_cpu_s: float = 0.0


@functools.cache
def _glibc() -> ctypes.CDLL | None:
    """The C library, loaded once (find_library asks ldconfig in a subprocess); None without glibc's malloc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        libc.mallopt, libc.malloc_trim  # noqa: B018 - glibc's, absent elsewhere
    except (OSError, AttributeError):
        return None
    return libc


@functools.cache
def recycle_freed_memory() -> None:
    """Let glibc's malloc keep freed memory for the next block instead of handing it back to the kernel.

    Every block allocates and frees the same few dozen arrays of up to ~32 MB.
    By default glibc returns such memory to the kernel (unmapping it, or
    trimming the heap) and the next block page-faults it in again, zeroed:
    that made system time rival user time. Memory kept this way is reused by
    the next block, so the resident size stays at one block's peak.
    No-op where malloc is not glibc's.
    """
    if (libc := _glibc()) is None:
        return
    mallopt = libc.mallopt
    m_trim_threshold, m_mmap_threshold, m_arena_max = -1, -3, -8
    mallopt(m_mmap_threshold, 32 << 20)  # glibc's largest: allocations up to 32 MB come from the heap
    mallopt(m_trim_threshold, 1 << 30)
    # one heap for every thread: a thread's own arena is made of 64 MB heaps, each unmapped as soon as it
    # is free, whatever the trim threshold (the workers allocate few, big arrays: no lock contention)
    mallopt(m_arena_max, 1)


def release_freed_memory() -> None:
    """Hand the heap's free pages back to the kernel now (glibc's malloc_trim; a no-op elsewhere).

    For loops whose allocations vary in size from one round to the next (an
    SAE's training steps): glibc leaves freed memory between live chunks in
    the heap, and the holes grow with the rounds (30 MB a block of rows at
    4,096 x 16,384, 1.4 GB over an epoch of 100,000 images). Trimming after
    each round keeps the resident size at one round's peak.
    """
    if (libc := _glibc()) is not None:
        libc.malloc_trim(0)


def plan_blocks(afile: ActivationFile, layers: Sequence[str], n_rows: int, cells_per_unit: int = 1) -> list[UnitBlock]:
    """Every block of every layer, in file order (layer_id = position in `layers`)."""
    return [
        UnitBlock(layer_id, layer, u0, u1)
        for layer_id, layer in enumerate(layers)
        for u0, u1 in afile.unit_blocks(layer, n_rows, cells_per_unit)
    ]


def measure_blocks(
    afile: ActivationFile,
    blocks: Sequence[UnitBlock],
    rows: np.ndarray,
    measure: Callable[[UnitBlock, np.ndarray, np.ndarray], T],
    *,
    workers: int = WORKERS,
    progress: bool = False,
    label: str = "measuring units",
    reuse_buffers: bool = False,
    ready: Callable[[str], None] | None = None,
) -> Iterator[Measured[T]]:
    """measure(block, values (len(rows), units), labels) for every block, yielded in block order.

    `rows` are the image rows to read (e.g. the analysed images grouped by
    class); their labels come with them. Stopping the iteration (an error or
    Ctrl-C in the caller) cancels the blocks not yet started. With
    `reuse_buffers`, each worker reads its blocks into the same memory: for a
    `measure` that keeps nothing of `values` once it returns. `ready(layer)`,
    when given, is called before a block of the layer is read: it waits until
    the layer can be read (seldb.load.checkpass) or raises why it cannot.
    """
    labels = afile.labels[rows]
    recycle_freed_memory()
    local = threading.local()

    def task(block: UnitBlock) -> Measured[T]:
        if ready is not None:
            ready(block.layer)
        started, cpu = time.perf_counter(), time.thread_time()
        buffers = None
        if reuse_buffers:
            buffers = local.__dict__.setdefault("buffers", Buffers())
        values = afile.read_unit_rows(block.layer, block.first, block.stop, rows, buffers)
        read, read_cpu = time.perf_counter(), time.thread_time()
        result = measure(block, values, labels)
        measured = Measured(block, result, read - started, time.perf_counter() - read)
        measured.read_cpu_s, measured.measure_cpu_s = read_cpu - cpu, time.thread_time() - read_cpu
        return measured

    futures: list[Future] = [Future() for _ in blocks]
    todo: queue.SimpleQueue = queue.SimpleQueue()
    stop = threading.Event()
    for _ in range(max(1, workers)):
        threading.Thread(target=_work, args=(todo, stop, task), daemon=True, name="seldb-block").start()
    try:
        with progress_bar(progress, sum(b.n_units for b in blocks), label) as bar:
            ahead = 0
            for i, _block in enumerate(blocks):  # keep `workers + 1` blocks in flight, hand them out in order
                while ahead < min(len(blocks), i + workers + 1):
                    todo.put((blocks[ahead], futures[ahead]))
                    ahead += 1
                measured = wait(futures[i])
                bar.advance(measured.block.n_units)
                yield measured
    finally:
        stop.set()  # workers finish their current block and leave; nobody waits for them
        for _ in range(max(1, workers)):
            todo.put(None)


def wait(future: Future[T]) -> T:
    """The future's result, waiting in short steps: the calling thread runs Python's signal handlers
    between them, so Ctrl-C and SIGTERM stop it within a fraction of a second."""
    while True:
        try:
            return future.result(timeout=0.1)
        except TimeoutError:
            continue


def in_background(fn: Callable[..., T], *args) -> Future[T]:
    """fn(*args) on a daemon thread like the block workers' (signals masked, never waited for at
    exit); `wait` gives its result or raises its error."""
    future: Future[T] = Future()

    def run() -> None:
        _mask_signals()
        _settle(future, fn, *args)

    threading.Thread(target=run, daemon=True, name="seldb-background").start()
    return future


def _mask_signals() -> None:
    # signals go to the calling thread, which handles them (a worker busy in numpy would not)
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})


def _settle(future: Future, fn: Callable, *args) -> None:
    try:
        future.set_result(fn(*args))
    except BaseException as exc:  # handed to the caller, who raises it
        future.set_exception(exc)


def _work(todo: queue.SimpleQueue, stop: threading.Event, task: Callable) -> None:
    _mask_signals()
    while (item := todo.get()) is not None and not stop.is_set():
        block, future = item
        _settle(future, task, block)
