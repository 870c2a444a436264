"""The options and result of `seldb ingest`, as typed data the CLI and notebooks build without torch.

IngestOptions holds every option of the command; how the recorded file is
then imported is derived from it (`import_options`), so ingest and
import-h5 share one definition of what a run's analysis options are.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from seldb.catalogue import DEFAULT_TOP_K
from seldb.load.options import ImportOptions, ImportResult, OnDuplicate


@dataclass
class IngestOptions:
    """Every option of `seldb ingest`; the CLI fills this one-to-one."""

    data: str | Path
    model: str | None = None
    weights: str | Path | None = None
    arch: str | None = None
    num_classes: int | None = None
    model_module: str | None = None
    layers: Sequence[str] | None = None
    reduce: str = "max"
    limit_per_class: int | None = None
    all_images: bool = False
    batch_size: int = 64
    workers: int | None = None
    device: str | None = None
    decode_on: str = "cpu"  # "cuda": JPEGs decoded in batches on the GPU (seldb.ingest.device_decode)
    out: str | Path | None = None
    class_names: str | Path | None = None
    val_ground_truth: str | Path | None = None
    places_list: str | Path | None = None
    input_size: int | None = None
    preprocess: str | None = None  # override the model's: torchvision | caffe | plain
    name: str | None = None  # model name recorded in the run (default: registry name, arch or module)
    bins: int = 32
    top_k: Sequence[int] = DEFAULT_TOP_K
    force: bool = False  # record the activation file anew (and import it as another run)
    on_duplicate: OnDuplicate = "reuse"  # the same recording imported before: see ImportOptions
    progress: bool = True
    chunk_images: int | None = None
    bootstrap: int = 0  # intervals and chance baseline after the import (see ImportOptions); 0 = off
    permutations: int = 0
    seed: int = 0
    level: float = 0.95
    # "ray": Ray Data batch inference on the cluster at `address` (docs/ray.md), and the import on it
    # too; `actors` model replicas (default: one per GPU with --device cuda, else one per two CPUs).
    engine: str = "local"
    address: str | None = None
    actors: int | None = None

    def import_options(self, model_name: str, dataset: str) -> ImportOptions:
        """How the recorded file is imported: every layer, this ingest's analysis options."""
        return ImportOptions(
            model=model_name,
            dataset=dataset,
            all_images=self.all_images,
            bins=self.bins,
            top_k=tuple(self.top_k),
            on_duplicate="new" if self.force else self.on_duplicate,
            bootstrap=self.bootstrap,
            permutations=self.permutations,
            seed=self.seed,
            level=self.level,
            engine=self.engine,
            address=self.address,
        )


@dataclass
class IngestResult:
    out: Path
    n_images: int
    n_correct: int | None  # None when the classes are the data set's (nothing compared)
    skipped: list[dict]
    layers: dict[str, int]  # layer -> units
    resumed_at: int
    recording_reused: bool  # the activation file was complete already: no inference ran
    imported: ImportResult  # the run (imported now, or reused: imported.reused)

    @property
    def run_id(self) -> int:
        return self.imported.run_id
