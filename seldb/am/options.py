"""What `seldb am` is asked to do, checked before anything runs: the typed entry point of AM on a run.

`AMOptions` names the run, the units (a list of labels, or the top N by a
measure), and every option that decides the images. The cheap checks live
here, without torch, so that bad input is one line before a network is
built, an image set is read or a file is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from seldb.errors import InputError
from seldb.settings import get_settings

METHODS = {"fft-decorrelated": 3, "fft-gray": 1}  # method -> image channels optimised
LEARNING_RATE = 0.05  # lucent's render_vis default
MIN_SIZE = 8
MAX_SEED = 2**63 - 1  # the store's bigint; torch takes any seed below 2**64


@dataclass(frozen=True)
class AMOptions:
    """One `seldb am` call. Images are reused when the run, unit, method, seed, steps, size, pre_relu
    and lr match a stored image whose file is unchanged; force=True regenerates them."""

    run: int | None = None  # None: the latest run
    units: tuple[str, ...] = ()  # unit labels, e.g. ("fc8.1", "fc8.7")
    top: int | None = None  # or the `top` units with the highest `by` (dead units and NULLs never rank)
    by: str = "precision_60"
    layer: str | None = None  # with top: only this layer
    steps: int = 512
    seed: int = 0
    size: int | None = None  # None: the run's input size
    method: str = "fft-decorrelated"
    pre_relu: bool = False
    device: str | None = None  # None: cuda when available, else cpu
    out: str | os.PathLike | None = None  # None: <data dir>/am/run<ID>
    force: bool = False
    threads: int | None = None  # CPU threads (the CPU bytes depend on it); None: torch's setting
    lr: float = LEARNING_RATE


def _whole(value, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


def check_options(steps: int, size: int, method: str, lr: float, seed: int = 0) -> None:
    """One InputError line for the first bad option of an image."""
    if not _whole(steps, 1):
        raise InputError(f"steps must be a whole number of at least 1, got {steps!r}")
    if not _whole(size, MIN_SIZE):
        raise InputError(f"size must be a whole number of at least {MIN_SIZE} pixels, got {size!r}")
    if method not in METHODS:
        raise InputError(f"unknown AM method {method!r}; known: {', '.join(METHODS)}")
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not lr > 0:
        raise InputError(f"the learning rate must be positive, got {lr!r}")
    if not _whole(seed, 0):
        raise InputError(f"seed must be a whole number of at least 0, got {seed!r}")
    if seed > MAX_SEED:
        raise InputError(f"seed must be at most {MAX_SEED} (2^63 - 1), got {seed}")


def check_request(options: AMOptions) -> None:
    """Everything about `options` that needs no database and no network."""
    check_options(
        options.steps, MIN_SIZE if options.size is None else options.size, options.method, options.lr, options.seed
    )
    if options.units and options.top is not None:
        raise InputError("give the units (--units) or the top N (--top), not both")
    if not options.units and options.top is None:
        raise InputError("name the units: --units fc8.1,fc8.7 or --top N --by precision_60 [--layer L]")
    if options.top is not None and not _whole(options.top, 1):
        raise InputError(f"--top must be a whole number of at least 1, got {options.top!r}")
    if options.layer is not None and options.top is None:
        raise InputError("--layer chooses among the top units: use it with --top (unit labels name their layer)")
    if options.threads is not None and not _whole(options.threads, 1):
        raise InputError(f"threads must be a whole number of at least 1, got {options.threads!r}")


def image_name(layer: str, unit: int, options: AMOptions, size: int) -> str:
    """The PNG's file name: the unit and every option of the reuse key, readable."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer)
    extra = ("-pre_relu" if options.pre_relu else "") + ("" if options.lr == LEARNING_RATE else f"-lr{options.lr:g}")
    return f"{safe}.{unit}-{options.method}-seed{options.seed}-steps{options.steps}-{size}px{extra}.png"


def default_out(run_id: int) -> Path:
    return get_settings().data_dir / "am" / f"run{run_id}"
