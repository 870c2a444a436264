"""The options and result of `seldb dissect`, as typed data the CLI and notebooks build without torch."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class DissectOptions:
    """Every option of `seldb dissect`; the CLI fills this one-to-one (see docs/dissect.md).

    run: an existing run of the same model whose layers the units join one-to-one; None makes a run
    of the dissection's own. preprocess: None follows the model (the run's recorded kind with `run`, else
    the registry's); a kind other than the run's is refused unless `force`. tally_csv: NetDissect-Lite's
    tally.csv, written after the run is stored (with several layers, FILE_<layer>.csv beside it).
    """

    broden: str | Path
    layers: Sequence[str]
    model: str | None = None
    weights: str | Path | None = None
    arch: str | None = None
    num_classes: int | None = None
    model_module: str | None = None
    run: int | None = None
    quantile: float = 0.005
    categories: Sequence[str] | None = None  # None: the dataset's; ["lite"]: NetDissect-Lite's five
    rules: str | None = None  # a preset of seldb.dissect.rules (lite, the default, or netdissect2017)
    union: str | None = None  # each rule given beside the preset overrides the preset's
    upsample: str | None = None
    threshold: str | None = None
    preprocess: str | None = None  # None: the run's recorded kind (with run), else the model's (registry)
    force: bool = False  # accept a preprocess other than the joined run's
    device: str | None = None
    batch_size: int = 64
    tally_csv: str | Path | None = None
    workdir: str | Path | None = None
    progress: bool = True


@dataclass
class DissectImport:
    run_id: int
    created_run: bool  # the run was made by this dissect (no class-selectivity measures)
    n_images: int
    quantile: float
    layers: dict[str, int]  # layer -> units
    n_labels: int  # labels per unit (in the chosen categories)
    detectors: dict[str, int]  # layer -> units whose top label has IoU > 0.04
    dissection_ids: dict[str, int]
    replaced: list[str] = field(default_factory=list)  # layers whose earlier dissection or tally was replaced
    tally_csv: list[Path] = field(default_factory=list)
    rules: dict = field(default_factory=dict)  # the union, upsample and threshold rules followed
    timings: dict = field(default_factory=dict)
