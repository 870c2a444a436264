"""Selectivity measures, exactly as docs/measures.md defines them (thresholds and ties included).

`compute_block` takes the activations of a block of units (images x units)
and the images' classes and returns every per-unit, per-(unit, class),
histogram and top-image number of the spec; `compute_concept_block` does the
target-set measures for one concept. Nothing here touches the database.

Modules: `block` lays a block of units out once; `classstats` (per-class
statistics, histograms), `sweep` (every class x threshold in one pass),
`topk` (top-k counts, top images) are the numpy passes, the reference;
`kernel` computes the same arrays in one compiled loop per unit (numba, the
default when installed; `kernel_block` lays blocks out for it;
SELDB_ENGINE=numpy forces the reference); `per_unit` holds one small polars
function per measure (the catalogue says which); `compute`
drives a block through them; `targets` does concepts; `resampling/` redoes
every scalar measure for bootstrap and permutation replicates.
"""

from seldb.measures.compute import BlockResult, compute_block
from seldb.measures.targets import compute_concept_block

__all__ = ["BlockResult", "compute_block", "compute_concept_block"]
