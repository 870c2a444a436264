"""What `seldb am` is asked to do, checked before anything runs: the typed entry point of AM on a run.

`AMOptions` names the run, the units (a list of labels, or the top N by a
measure), and every option that decides the images. The cheap checks live
here, without torch, so that bad input is one line before a network is
built, an image set is read or a file is written.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from seldb.errors import InputError
from seldb.settings import get_settings

METHODS = {"fft-decorrelated": 3, "fft-gray": 1}  # method -> image channels optimised
OBJECTIVES = ("channel", "centre")  # a conv unit's spatial mean, or its centre neuron (PPGN's)
LEARNING_RATE = 0.05  # lucent's render_vis default
MIN_SIZE = 8
MAX_SEED = 2**63 - 1  # the store's bigint; torch takes any seed below 2**64
MAX_STEPS = 1_000_000  # days per image on a CPU for AlexNet; the store's integer holds 2**31 - 1
MAX_SAMPLES = 1000  # the paper's study showed 100 per unit
DIVERSITY = 1.0  # weight of the diversity term between a unit's samples (measured in docs/am.md)
BATCH = 64  # images per forward/backward pass
GENERATOR_METHOD = "ppgn"  # the method stored for images sampled through a generator prior
GENERATOR_SPEC = re.compile(r"[A-Za-z_][\w.]*:[A-Za-z_]\w*")


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
    seed: int = 0  # the first sample's; sample i has seed + i
    size: int | None = None  # None: the run's input size
    method: str | None = None  # None: fft-gray when the run's images are grey, else fft-decorrelated
    pre_relu: bool = False
    objective: str = "channel"  # or "centre": a conv unit's centre neuron, the PNG cropped to its receptive field
    samples: int = 1  # per unit, optimised together with a diversity term
    diversity: float | None = None  # None: DIVERSITY for several samples, 0 for one
    batch: int = BATCH  # images per forward/backward pass (a unit's samples share one)
    generator: str | None = None  # MODULE:FN of a generator prior (PPGN's sampler), None: the Fourier image
    device: str | None = None  # None: cuda when available, else cpu
    out: str | os.PathLike | None = None  # None: <data dir>/am/run<ID>
    force: bool = False
    threads: int | None = None  # CPU threads (the CPU bytes depend on it); None: torch's setting
    lr: float = LEARNING_RATE


def _whole(value, least: int) -> bool:
    return not isinstance(value, bool) and isinstance(value, int) and value >= least


def check_options(steps: int, size: int, method: str, lr: float, seed: int = 0, generator: bool = False) -> None:
    """One InputError line for the first bad option of an image (method "ppgn" only with a generator)."""
    if not _whole(steps, 1) or steps > MAX_STEPS:
        raise InputError(f"steps must be a whole number from 1 to {MAX_STEPS:,}, got {steps!r}")
    if not _whole(size, MIN_SIZE):
        raise InputError(f"size must be a whole number of at least {MIN_SIZE} pixels, got {size!r}")
    if method not in METHODS and not (generator and method == GENERATOR_METHOD):
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
        options.steps,
        MIN_SIZE if options.size is None else options.size,
        next(iter(METHODS)) if options.method is None else options.method,
        options.lr,
        options.seed,
        options.generator is not None,
    )
    if options.generator is not None:
        if not isinstance(options.generator, str) or not GENERATOR_SPEC.fullmatch(options.generator):
            raise InputError(
                "--generator must be MODULE:FUNCTION (e.g. seldb.demo_generator:digit_generator),"
                f" got {options.generator!r}"
            )
        if options.method not in (None, GENERATOR_METHOD):
            raise InputError(
                f"--method {options.method} makes a Fourier image; with --generator the image is the generator's"
            )
        if options.diversity is not None:
            raise InputError(
                "--diversity weighs the Fourier images' diversity term; PPGN's samples differ by their seeds and noise"
            )
    if options.objective not in OBJECTIVES:
        raise InputError(f"--objective must be one of {', '.join(OBJECTIVES)}, got {options.objective!r}")
    if not _whole(options.samples, 1) or options.samples > MAX_SAMPLES:
        raise InputError(f"--samples must be a whole number from 1 to {MAX_SAMPLES}, got {options.samples!r}")
    if options.seed + options.samples - 1 > MAX_SEED:
        raise InputError(f"--seed {options.seed} with {options.samples} samples passes the largest seed, {MAX_SEED}")
    if options.diversity is not None and (
        isinstance(options.diversity, bool)
        or not isinstance(options.diversity, (int, float))
        or not math.isfinite(options.diversity)
        or options.diversity < 0
    ):
        raise InputError(f"--diversity must be a finite number of at least 0, got {options.diversity!r}")
    if not _whole(options.batch, 1):
        raise InputError(f"--batch must be a whole number of at least 1, got {options.batch!r}")
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


def diversity_of(options: AMOptions) -> float:
    """The diversity weight the images are made with: 0 for a single sample (nothing to differ from)."""
    if options.samples == 1 or options.generator is not None:
        return 0.0
    return DIVERSITY if options.diversity is None else float(options.diversity)


def image_name(layer: str, unit: int, options: AMOptions, size: int, seed: int | None = None) -> str:
    """The PNG's file name: the unit and every option of the reuse key, readable (seed: the sample's)."""
    safe = "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in layer)
    extra = ("-pre_relu" if options.pre_relu else "") + ("" if options.lr == LEARNING_RATE else f"-lr{options.lr:g}")
    if options.objective != "channel":
        extra += f"-{options.objective}"
    if options.samples > 1:
        extra += f"-of{options.samples}-div{diversity_of(options):g}"
    if options.generator:
        extra += "-" + "".join(ch if ch.isalnum() or ch in "._-" else "_" for ch in options.generator)
    seed = options.seed if seed is None else seed
    return f"{safe}.{unit}-{options.method}-seed{seed}-steps{options.steps}-{size}px{extra}.png"


def default_out(run_id: int) -> Path:
    return get_settings().data_dir / "am" / f"run{run_id}"
