"""Measuring unit blocks on a Ray cluster: the import's engine beyond one machine.

`seldb.engine.blocks.measure_blocks` measures blocks on threads of this process;
this module keeps its contract - measure(block, values, labels) for every
block, Measured results yielded in block order - but runs each block as a Ray
task, anywhere on a cluster. The driver (the process that runs the import)
keeps the database: results stream back to it in block order and it COPYs
them in its one transaction, as with the local engine, so the rows are the
same whichever engine computed them.

What travels: the measure function, the analysed rows and their labels go
into the object store once; then per block either nothing but its position
(each worker opens the file by path: the file must be on storage every node
sees at the same path) or, with `ship_blocks`, the block's values read by the
driver. At most `in_flight` blocks are submitted and not yet collected,
which bounds memory on both sides.

Ray is an optional extra: it is imported only here, lazily, and a missing
package or an unreachable cluster is one SeldbError line.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np

from seldb.engine.blocks import Measured, UnitBlock
from seldb.errors import InputError, SeldbError, Terminated
from seldb.h5.reader import ActivationFile
from seldb.progress import progress_bar

T = TypeVar("T")
INSTALL_HINT = "pip install 'seldb[ray]'"
CONNECT_TIMEOUT_S = 30.0
LOOPBACK = "127.0.0.1"
CLUSTER_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"  # see _loopback_only
MAX_RETRIES = 3  # a task whose worker process or node dies is run again, up to this many times


def import_ray():
    """The ray module, or one line saying how to install it."""
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")  # no usage report leaves the machine unless asked
    # a Ray call after the session closed (a Ray Data thread winding down) must fail, not start a Ray here
    os.environ.setdefault("RAY_ENABLE_AUTO_CONNECT", "0")
    try:
        import ray
    except ImportError:
        raise InputError(f"--engine ray needs Ray, which is not installed here: {INSTALL_HINT}") from None
    return ray


def session(engine: str, address: str | None):
    """What a whole command runs inside for its engine: for "ray", the connection to the cluster, made
    before any work (an unreachable one fails at once) and closed after; nothing for the local engine."""
    if engine != "ray":
        return contextlib.nullcontext()
    return connect(address)


def _check_reachable(address: str) -> None:
    """Fail in seconds where ray.init would wait for minutes: nothing listens at host:port."""
    if address in ("auto", "local") or "://" in address:
        return
    host, _, port = address.rpartition(":") if ":" in address else (address, "", "6379")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except ValueError:
        raise InputError(
            f"--address {address!r}: expected HOST:PORT of the cluster's head (e.g. 10.0.0.5:6379)"
        ) from None
    except OSError as exc:
        raise SeldbError(
            f"cannot reach the Ray cluster at {address}: {exc.strerror or exc} (is `ray start --head`"
            " running there, and is the port open from this machine?)"
        ) from None


@contextlib.contextmanager
def connect(address: str | None = None, timeout: float = CONNECT_TIMEOUT_S) -> Iterator[Any]:
    """Connect to the cluster at `address` (None: RAY_ADDRESS, else a Ray started for this process)
    for the duration of the block; a session that is already connected is used as it is."""
    ray = import_ray()
    if ray.is_initialized():
        with faults_as_lines(ray):
            yield ray
        return
    if starts_own_ray(address):
        with _loopback_only(ray):
            with _keeping_sigterm():
                _start_own(ray)
            try:
                with faults_as_lines(ray):
                    yield ray
            finally:
                ray.shutdown()
        return
    if address:
        _check_reachable(address)
    with _keeping_sigterm():
        _connect(ray, address, timeout)
    try:
        with faults_as_lines(ray):
            yield ray
    finally:
        ray.shutdown()


@contextlib.contextmanager
def faults_as_lines(ray) -> Iterator[None]:
    """Any fault of Ray inside the block (a lost node or worker, a full object store, a task that
    failed on a worker) leaves it as one SeldbError line; a SeldbError a task raised, as itself."""
    try:
        yield
    except ray.exceptions.RayError as exc:
        raise ray_fault(ray, exc) from None
    except KeyboardInterrupt as exc:
        if _SIGTERM_RECEIVED.is_set() and not isinstance(exc, Terminated):
            raise Terminated() from None  # SIGTERM, as Ray's wait reported it
        raise


def ray_fault(ray, exc: BaseException) -> SeldbError:
    """The one line for a Ray exception."""
    inner: BaseException | None = exc
    seen: set[int] = set()
    while inner is not None and id(inner) not in seen:  # Ray wraps a task's own error (cause, __cause__)
        if isinstance(inner, SeldbError):
            return inner
        seen.add(id(inner))
        inner = getattr(inner, "cause", None) or inner.__cause__
    errors = ray.exceptions
    if isinstance(exc, errors.ObjectStoreFullError):
        return SeldbError(
            "Ray's object store is full: give its nodes more (`ray start --object-store-memory BYTES`), or"
            f" fewer CPUs per node; {_first_line(exc)}"
        )
    if isinstance(exc, errors.OutOfMemoryError):
        return SeldbError(f"Ray stopped a worker for lack of memory: {_first_line(exc)}")
    cause = getattr(exc, "cause", None)
    if isinstance(exc, errors.RayTaskError) and isinstance(cause, BaseException):
        line = f"a Ray task failed: {type(cause).__name__}: {_first_line(cause)}"
    else:
        line = f"Ray failed ({type(exc).__name__}): {_first_line(exc)}"
    if isinstance(cause, ImportError) or "No module named" in line:  # a worker could not unpickle the task
        line += " (every Ray node needs seldb and Python as the driver has them: docs/ray.md, Installing)"
    return SeldbError(line)


@contextlib.contextmanager
def _keeping_sigterm() -> Iterator[None]:
    """ray.init replaces the process's SIGTERM handling (a Python handler that exits at once, without
    the caller's cleanup and one line; a C++ one that logs and aborts): put back what the caller had."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.getsignal(signal.SIGTERM)
    try:
        yield
    finally:
        if callable(previous):
            signal.signal(signal.SIGTERM, functools.partial(_on_sigterm, previous))
        else:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


_SIGTERM_RECEIVED = threading.Event()


def _on_sigterm(handler: Callable, signum, frame) -> None:
    """The caller's SIGTERM handler, noting the signal: Ray turns an exception that a handler raises
    while it waits (Terminated, a KeyboardInterrupt) into a plain KeyboardInterrupt; see faults_as_lines."""
    _SIGTERM_RECEIVED.set()
    handler(signum, frame)


def starts_own_ray(address: str | None) -> bool:
    """Whether `address` means a Ray started by this process for itself (rather than a cluster the user
    names): no address and no RAY_ADDRESS, or Ray's own word for it, "local"."""
    return address == "local" or (not address and not os.environ.get("RAY_ADDRESS"))


def _start_own(ray) -> None:
    """Start a Ray of this process's own, on this thread, listening on 127.0.0.1 only.

    On this thread, not a helper one: Ray starts its services (GCS, raylet, agents) with a parent-death
    signal (prctl PR_SET_PDEATHSIG), and Linux sends that signal when the *thread* that forked them ends -
    a Ray started from a thread that then returns is SIGKILLed within moments. Starting it needs no
    timeout of ours (Ray bounds each step; Ctrl-C reaches this thread); connecting elsewhere does (_connect).
    """
    try:
        ray.init(address="local", include_dashboard=False, logging_level=logging.ERROR, log_to_driver=False)
    except Exception as exc:
        raise SeldbError(f"cannot start a local Ray: {_first_line(exc)}") from None
    exposed = sorted({node["NodeManagerAddress"] for node in ray.nodes()} - {LOOPBACK})
    if exposed:  # a Ray version that ignores the switch: refuse rather than serve on the network
        ray.shutdown()
        raise SeldbError(
            f"the local Ray listens on {', '.join(exposed)}, not on {LOOPBACK} only; stopped it"
            " (start a cluster with `ray start` and pass --address instead)"
        )


@contextlib.contextmanager
def _loopback_only(ray) -> Iterator[None]:
    """While a Ray of our own starts and runs: Ray's single-machine mode, where its node's address is
    127.0.0.1, so every server of it (GCS, raylet, object manager, agents, workers) binds 127.0.0.1.

    Ray has one switch for this, named for the platforms where it is the default
    (RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0; ray._private.ray_constants.ENABLE_RAY_CLUSTER, read when ray
    is imported): set in the environment for the processes Ray starts, and in the constant for this one.
    """
    constants = ray._private.ray_constants
    saved_env, saved_flag = os.environ.get(CLUSTER_SWITCH), getattr(constants, "ENABLE_RAY_CLUSTER", None)
    os.environ[CLUSTER_SWITCH] = "0"
    constants.ENABLE_RAY_CLUSTER = False
    try:
        yield
    finally:
        if saved_env is None:
            os.environ.pop(CLUSTER_SWITCH, None)
        else:
            os.environ[CLUSTER_SWITCH] = saved_env
        if saved_flag is not None:
            constants.ENABLE_RAY_CLUSTER = saved_flag


def _connect(ray, address: str | None, timeout: float) -> None:
    """Connect to a running cluster, giving up after `timeout` s. ray.init runs in a helper thread (it
    can wait for minutes on an address that answers but is no Ray head); connecting starts no process,
    so nothing is tied to that thread's life (see _start_own)."""
    outcome: dict = {}

    def init() -> None:
        try:
            ray.init(address=address, logging_level=logging.ERROR, log_to_driver=False)
        except BaseException as exc:  # handed to the caller's thread
            outcome["error"] = exc

    thread = threading.Thread(target=init, daemon=True, name="seldb-ray-connect")
    thread.start()
    thread.join(timeout)
    where = f"the Ray cluster at {address or os.environ.get('RAY_ADDRESS')}"
    if thread.is_alive():
        raise SeldbError(
            f"cannot connect to {where}: no answer within {timeout:.0f} s (is it a Ray head's address?"
            " do this machine's Ray and Python versions match the cluster's?)"
        )
    if "error" in outcome:
        raise SeldbError(f"cannot connect to {where}: {_first_line(outcome['error'])}")


def _first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@dataclass
class _Shared:
    """What every task needs, put into the object store once."""

    path: str | None  # the file each worker opens; None when the driver ships the blocks
    size: int  # the driver's file size: a worker that sees another file refuses it
    rows: np.ndarray
    labels: np.ndarray
    measure: Callable


_OPEN: dict[tuple, ActivationFile] = {}  # per worker process: the file it has open (one at a time)


def _open(path: str, size: int) -> ActivationFile:
    try:
        stat = os.stat(path)
    except OSError as exc:
        raise InputError(
            f"{path}: {exc.strerror} on Ray node {socket.gethostname()}: with --engine ray every node"
            " reads the file at the same path (shared storage); --ship-blocks sends the blocks from"
            " the driver instead"
        ) from None
    if stat.st_size != size:
        raise InputError(
            f"{path}: on Ray node {socket.gethostname()} the file has {stat.st_size} bytes, on the"
            f" driver {size}: not the same file (use shared storage, or --ship-blocks)"
        )
    key = (path, stat.st_size, stat.st_mtime_ns)
    if key not in _OPEN:
        for old in _OPEN.values():
            old.close()
        _OPEN.clear()
        _OPEN[key] = ActivationFile(path)
    return _OPEN[key]


def _run_block(shared: _Shared, block: UnitBlock, values: np.ndarray | None) -> Measured:
    """One Ray task: read the block (unless shipped), measure it."""
    started = time.perf_counter()
    if values is None:
        assert shared.path is not None  # the driver ships every block when no path is shared
        afile = _open(shared.path, shared.size)
        prepare = getattr(afile, "ensure_unit_readable", None)  # the layout work the local engine does once
        if prepare is not None:
            prepare(block.layer, block.n_units)
        values = afile.read_units(block.layer, block.first, block.stop)[shared.rows]
    elif not values.flags.writeable:  # the object store hands out read-only views; measures get their own copy
        values = values.copy()
    read = time.perf_counter()
    result = shared.measure(block, values, shared.labels)
    return Measured(block, result, read - started, time.perf_counter() - read)


def default_in_flight(ray) -> int:
    """Blocks submitted ahead: every CPU of the cluster busy, and one more waiting."""
    return max(2, int(ray.cluster_resources().get("CPU", 1)) + 1)


def measure_blocks(
    afile: ActivationFile,
    blocks: Sequence[UnitBlock],
    rows: np.ndarray,
    measure: Callable[[UnitBlock, np.ndarray, np.ndarray], T],
    *,
    address: str | None = None,
    ship_blocks: bool = False,
    in_flight: int | None = None,
    progress: bool = False,
    label: str = "measuring units (Ray)",
) -> Iterator[Measured[T]]:
    """seldb.engine.blocks.measure_blocks on a Ray cluster: the same calls, the same order.

    Stopping the iteration cancels the blocks not yet measured.
    """
    with connect(address) as ray:
        path = None if ship_blocks else str(afile.path.resolve())
        shared = ray.put(_Shared(path, afile.path.stat().st_size, rows, afile.labels[rows], measure))
        task = ray.remote(_run_block).options(max_retries=MAX_RETRIES, num_cpus=1)
        ahead = max(1, in_flight or default_in_flight(ray))  # blocks submitted and not yet collected
        refs: list = [None] * len(blocks)
        reads = [0.0] * len(blocks)

        def submit(i: int) -> None:
            values = None
            if ship_blocks:
                started = time.perf_counter()
                values = ray.put(afile.read_units(blocks[i].layer, blocks[i].first, blocks[i].stop)[rows])
                reads[i] = time.perf_counter() - started
            refs[i] = task.remote(shared, blocks[i], values)

        try:
            with progress_bar(progress, sum(b.n_units for b in blocks), label) as bar:
                submitted = 0
                for i, block in enumerate(blocks):
                    while submitted < min(len(blocks), i + ahead):
                        submit(submitted)
                        submitted += 1
                    measured = _result(ray, refs[i], block)
                    refs[i] = None  # the driver holds only what it still waits for
                    measured.read_s += reads[i]
                    bar.advance(block.n_units)
                    yield measured
        finally:  # the blocks not collected are cancelled (unless the session is gone, and they with it)
            for ref in refs:
                if ref is not None and ray.is_initialized():
                    ray.cancel(ref)


def _result(ray, ref, block: UnitBlock) -> Measured:
    """The task's result, waiting in short steps (Ctrl-C stops the driver at once); a task's
    SeldbError is raised as itself, a worker lost beyond its retries as one line."""
    exceptions = ray.exceptions
    while True:
        try:
            return ray.get(ref, timeout=0.2)
        except exceptions.GetTimeoutError:
            continue
        except exceptions.RayTaskError as exc:
            if isinstance(exc.cause, SeldbError):
                raise exc.cause from None
            raise
        except (
            exceptions.WorkerCrashedError,
            exceptions.NodeDiedError,
            exceptions.ObjectLostError,
            exceptions.RaySystemError,
        ) as exc:
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise SeldbError(
                f"Ray lost the task measuring {block.layer} units {block.first}-{block.stop - 1}"
                f" after {MAX_RETRIES} retries: {first}"
            ) from None
