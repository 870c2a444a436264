"""Resampling: every scalar measure recomputed for many bootstrap or permutation replicates at once.

`draws` makes the seeded replicates (images drawn within classes, shuffled
labels); `replicate_measures`, `top` and `passes` recompute the measures from
one sweep of a unit's activation order per replicate (`compiled`: the same
sweep in numba, optional); `unit_replicates` and `block_replicates` assemble
them; `intervals` turns replicates into intervals, p-values and q-values;
`estimates` is the whole computation for a block of units, with its options
(what `seldb uncertainty`, seldb.load.uncertainty, runs on every block).
"""
