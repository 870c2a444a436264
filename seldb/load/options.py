"""The options and result of `seldb import-h5`, as typed data.

`import-h5` takes ImportOptions and a Provenance and returns an ImportResult;
every command that ends in an import (ingest, the control, the SAE) builds
these. This module imports no numpy, torch or database driver, so the CLI and
notebooks build them cheaply.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, cast

from seldb.catalogue import DEFAULT_TOP_K
from seldb.errors import InputError

OnDuplicate = Literal["error", "reuse", "replace", "new"]
ON_DUPLICATE = ("error", "reuse", "replace", "new")
ENGINES = ("local", "ray")


@dataclass
class ImportOptions:
    """What to import and how; what as_json() holds makes up the run's fingerprint (not on_duplicate,
    the uncertainty options or the engine: they do not change the run's measures).

    on_duplicate, when this file was imported with these options before:
    "error" refuses, naming the run; "reuse" returns that run; "replace"
    deletes it and imports anew (in one transaction); "new" imports another
    run beside it (`--force`).
    """

    model: str | None = None
    dataset: str | None = None
    layers: Sequence[str] | None = None
    all_images: bool = False
    bins: int = 32
    top_k: Sequence[int] = DEFAULT_TOP_K
    nan_policy: str = "error"
    on_duplicate: OnDuplicate = "error"
    # Intervals and chance baseline computed after the import (seldb uncertainty); 0 = off. Not part
    # of the fingerprint: they add to a run, they do not change its measures.
    bootstrap: int = 0
    permutations: int = 0
    seed: int = 0
    level: float = 0.95
    # Where the blocks are measured (docs/ray.md): "local" threads, or "ray" tasks on the cluster at
    # `address` (None: RAY_ADDRESS, else a Ray of this process's own), each worker reading its blocks
    # from the file, or receiving them from this process (ship_blocks). Not part of the fingerprint:
    # every engine gives the same rows.
    engine: str = "local"
    address: str | None = None
    ship_blocks: bool = False

    def validate(self) -> None:
        check_uncertainty(self.bootstrap, self.permutations, self.seed, self.level)
        check_engine(self.engine, self.address, self.ship_blocks)
        if self.bins < 1:
            raise InputError(f"--bins must be at least 1, got {self.bins}")
        if not self.top_k or any(int(k) < 1 for k in self.top_k):
            raise InputError(f"--top-k takes positive integers, got {list(self.top_k)}")
        if self.nan_policy not in ("error", "drop"):
            raise InputError(f"--nan-policy is 'error' or 'drop', got {self.nan_policy!r}")
        if self.on_duplicate not in ON_DUPLICATE:
            raise InputError(f"--on-duplicate is one of {', '.join(ON_DUPLICATE)}, got {self.on_duplicate!r}")

    def as_json(self) -> dict:
        """The options that define a run (stored with it and hashed into its fingerprint)."""
        return {
            "model": self.model,
            "dataset": self.dataset,
            "layers": list(self.layers) if self.layers else None,
            "all_images": self.all_images,
            "bins": self.bins,
            "top_k": sorted({int(k) for k in self.top_k} | set(DEFAULT_TOP_K)),
            "nan_policy": self.nan_policy,
        }


def on_duplicate_option(value: str) -> OnDuplicate:
    """--on-duplicate's text as the typed choice, or one InputError line."""
    if value not in ON_DUPLICATE:
        raise InputError(f"--on-duplicate is one of {', '.join(ON_DUPLICATE)}, got {value!r}")
    return cast(OnDuplicate, value)


def check_engine(engine: str, address: str | None, ship_blocks: bool = False) -> None:
    """One-line errors for --engine, --address and --ship-blocks."""
    if engine not in ENGINES:
        raise InputError(f"--engine is one of {', '.join(ENGINES)}, got {engine!r}")
    if engine != "ray" and (address or ship_blocks):
        raise InputError(f"{'--address' if address else '--ship-blocks'} is an option of --engine ray")


# What the database stores them as (int4 replicate counts, an int8 seed): refused before any work, not after
MAX_REPLICATES = 2**31 - 1
MAX_SEED = 2**63 - 1
# The draws of every replicate are held at once (a byte per image per bootstrap replicate, two per permutation),
# beside each block's replicate values (8 bytes per unit, measure and replicate)
MAX_REPLICATE_BYTES = 8 * 2**30


def check_uncertainty(bootstrap: int, permutations: int, seed: int, level: float) -> None:
    """One-line errors for the options of `seldb uncertainty` (and the same on import-h5/ingest)."""
    for name, value, most in (
        ("bootstrap", bootstrap, MAX_REPLICATES),
        ("permutations", permutations, MAX_REPLICATES),
        ("seed", seed, MAX_SEED),
    ):
        if int(value) < 0:
            raise InputError(f"--{name} must be 0 or more, got {value}")
        if int(value) > most:
            raise InputError(f"--{name} is at most {most:,}, got {value:,}")
    if not 0.0 < float(level) < 1.0:
        raise InputError(f"--level must lie strictly between 0 and 1, got {level}")


@dataclass
class Provenance:
    """Where the activation file came from, stored with the run.

    `details` go into the run's options as they are; `skipped_images`
    (images the producer could not read, {"path", "reason"} each) count as
    dropped and are listed in the run's record.
    """

    source: str = "seldb import-h5"
    details: dict = field(default_factory=dict)
    skipped_images: list[dict] = field(default_factory=list)

    def as_json(self) -> dict:
        record = {"source": self.source, **self.details}
        if self.skipped_images:
            record.update(skipped_images=self.skipped_images, n_skipped=len(self.skipped_images))
        return record


@dataclass
class ImportResult:
    run_id: int
    n_units: int
    n_images_analysed: int
    n_dropped_nonfinite: int = 0  # images dropped for NaN/inf (--nan-policy drop)
    skipped_concepts: list[str] = field(default_factory=list)
    timings: dict = field(default_factory=dict)
    row_counts: dict = field(default_factory=dict)
    reused: bool = False  # the file was imported before: this is that run (on_duplicate="reuse")
    replaced: list[int] = field(default_factory=list)  # runs deleted for this one (on_duplicate="replace")
    notes: list[str] = field(default_factory=list)  # what the user should know (e.g. a k above N)
    uncertainty: Any = None  # seldb.load.uncertainty.UncertaintyRunResult when bootstrap/permutations were asked for


def check_replicate_memory(n_images: int, bootstrap: int, permutations: int, block_values: int) -> None:
    """Refuse, before allocating, replicates whose draws and block values would not fit in
    MAX_REPLICATE_BYTES (`block_values`: unit-measure values of one block, per replicate)."""
    need = n_images * (bootstrap + 2 * permutations) + 8 * block_values * max(bootstrap, permutations)
    if need > MAX_REPLICATE_BYTES:
        raise InputError(
            f"--bootstrap {bootstrap:,} and --permutations {permutations:,} over {n_images:,} images need about"
            f" {need / 2**30:,.1f} GiB of memory (seldb holds at most {MAX_REPLICATE_BYTES // 2**30} GiB of"
            " replicates); ask for fewer replicates"
        )
