"""Where seldb 0.1's modules went: their old import paths keep working for one release, with a warning.

seldb 0.2 moved its modules into subpackages by role (docs/architecture.md).
Code and notebooks written against 0.1 import, for instance,
`seldb.activations.write_activation_file` or run `python -m seldb.docgen`;
until 0.3 those still work: the old name is a thin module that forwards every
attribute to the new one (or, for `seldb.options`, to the three modules its
classes went to) and raises a DeprecationWarning that names the new path.
The finder is installed by `import seldb` and costs nothing until an old
name is imported.
"""

from __future__ import annotations

import importlib
import importlib.machinery
import sys
import types
import warnings
from collections.abc import Sequence
from typing import Any

REMOVED_IN = "0.3"

MOVED: dict[str, tuple[str, ...]] = {
    "seldb.activations": ("seldb.h5.reader",),
    "seldb.activation_writer": ("seldb.h5.writer",),
    "seldb.unitmajor": ("seldb.h5.unitmajor",),
    "seldb.blockwise": ("seldb.engine.blocks",),
    "seldb.ray_engine": ("seldb.engine.ray_blocks",),
    "seldb.importer": ("seldb.load.import_h5",),
    "seldb.run_uncertainty": ("seldb.load.uncertainty",),
    "seldb.concepts": ("seldb.load.concepts",),
    "seldb.summaries": ("seldb.load.summaries",),
    "seldb.correlations": ("seldb.load.summaries",),
    "seldb.options": ("seldb.load.options", "seldb.ingest.options", "seldb.dissect.options"),
    "seldb.runs": ("seldb.db.runs", "seldb.db.read"),
    "seldb.query": ("seldb.db.query",),
    "seldb.docgen": ("seldb.db.docgen",),
    "seldb.netdissect": ("seldb.dissect.imported", "seldb.dissect.tallycsv"),
    "seldb.studies": ("seldb.ratings.studies",),
    "seldb.reports.source": ("seldb.db.read",),
    "seldb.reports.figures": ("seldb.figures",),
    "seldb.reports.render": ("seldb.render",),
    "seldb.reports.dissection": ("seldb.reports.detectors",),
    "seldb.ingest.models": ("seldb.nets.registry",),
    "seldb.ingest.weights": ("seldb.nets.weights",),
    "seldb.ingest.caffe_googlenet": ("seldb.nets.caffe_googlenet",),
    "seldb.ingest.preprocess": ("seldb.nets.preprocess",),
    "seldb.ingest.hooks": ("seldb.nets.hooks",),
    "seldb.ingest.pipeline": ("seldb.ingest.command",),
    "seldb.ingest.ray_runner": ("seldb.ingest.ray_recording",),
    "seldb.dissect.store": ("seldb.dissect.saving",),
    "seldb.dissect.planted": ("seldb.dissect.planted_net",),
    "seldb.am.run_am": ("seldb.am.command",),
    "seldb.am.units": ("seldb.am.command",),
    "seldb.am.request": ("seldb.am.options",),
    "seldb.am.store": ("seldb.am.am_images",),
    "seldb.am.run_images": ("seldb.am.dataset_images",),
    "seldb.am.dataset_mean": ("seldb.am.dataset_images",),
    "seldb.am.natural": ("seldb.am.contact_sheet",),
    "seldb.am.png": ("seldb.png",),
    "seldb.am.in_reports": ("seldb.reports.am_panels",),
    "seldb.am.rating_sheet": ("seldb.ratings.sheet",),
    "seldb.am.sheet_page": ("seldb.ratings.page",),
    "seldb.am.study": ("seldb.ratings.from_am",),
    "seldb.control.importing": ("seldb.control.command",),
    "seldb.control.run": ("seldb.control.experiment",),
    "seldb.control.planted": ("seldb.control.planted_units",),
    "seldb.control.measure": ("seldb.control.steps",),
    "seldb.measures.unit": ("seldb.measures.per_unit",),
    "seldb.measures.concept": ("seldb.measures.targets",),
    "seldb.measures.replicates": ("seldb.measures.resampling.draws",),
    "seldb.measures.resample": ("seldb.measures.resampling.replicate_measures",),
    "seldb.measures.resample_top": ("seldb.measures.resampling.top",),
    "seldb.measures.resample_pass": ("seldb.measures.resampling.passes",),
    "seldb.measures.resample_numba": ("seldb.measures.resampling.compiled",),
    "seldb.measures.resample_unit": ("seldb.measures.resampling.unit_replicates",),
    "seldb.measures.replicate_block": ("seldb.measures.resampling.block_replicates",),
    "seldb.measures.chance": ("seldb.measures.resampling.intervals",),
    "seldb.measures.uncertainty": ("seldb.measures.resampling.estimates",),
    "seldb.db.load": ("seldb.db.write",),
    "seldb.db.columns": ("seldb.db.views",),
    "seldb.serve.pages_layer": ("seldb.serve.pages.layer",),
    "seldb.serve.pages_rate": ("seldb.serve.pages.rate",),
    "seldb.serve.pages_runs": ("seldb.serve.pages.runs",),
    "seldb.serve.pages_unit": ("seldb.serve.pages.unit",),
    "seldb.serve.pages_units": ("seldb.serve.pages.units",),
}


class _Forward(types.ModuleType):
    """An old module name whose attributes are looked up in the module(s) that hold them now."""

    def __init__(self, name: str, targets: Sequence[str]):
        super().__init__(name, f"Moved in seldb 0.2 to {', '.join(targets)} (this name goes in {REMOVED_IN}).")
        self.__targets = tuple(targets)

    def __getattr__(self, attribute: str) -> Any:
        for target in self.__targets:
            module = importlib.import_module(target)
            if hasattr(module, attribute):
                return getattr(module, attribute)
        raise AttributeError(f"module {self.__name__!r} (now {', '.join(self.__targets)}) has no {attribute!r}")

    def __dir__(self) -> list[str]:
        return sorted({name for target in self.__targets for name in dir(importlib.import_module(target))})


class _AliasLoader:
    """Makes the forwarding module; for `python -m` it hands runpy code that runs the new module."""

    def __init__(self, targets: tuple[str, ...]):
        self.targets = targets

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType:
        warnings.warn(
            f"{spec.name} moved to {' and '.join(self.targets)} in seldb 0.2; the old name goes in {REMOVED_IN}",
            DeprecationWarning,
            stacklevel=3,
        )
        return _Forward(spec.name, self.targets)

    def exec_module(self, module: types.ModuleType) -> None:
        pass  # nothing to run: attributes are forwarded

    def get_code(self, fullname: str) -> types.CodeType:
        # `python -m seldb.docgen` runs the new module as __main__
        source = f"import runpy\nrunpy.run_module({self.targets[0]!r}, run_name='__main__', alter_sys=True)\n"
        return compile(source, f"<seldb alias {fullname}>", "exec")


class AliasFinder:
    """Finds the old module names of MOVED, and nothing else."""

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        if fullname not in MOVED:
            return None
        return importlib.machinery.ModuleSpec(fullname, _AliasLoader(MOVED[fullname]))  # type: ignore[arg-type]


def install() -> None:
    """Put the finder after the real ones, once: a module that exists always wins over an alias."""
    if not any(isinstance(finder, AliasFinder) for finder in sys.meta_path):
        sys.meta_path.append(AliasFinder())
