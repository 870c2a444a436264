"""Resampling: every scalar measure recomputed for many bootstrap or permutation replicates at once.

`draws` makes the seeded replicates (images drawn within classes, shuffled
labels); `measures`, `top` and `passes` recompute the measures from one sweep
of a unit's activation order per replicate (`compiled`: the same sweep in
numba, optional); `per_unit` and `per_block` assemble them; `intervals`
turns replicates into intervals, p-values and q-values; `uncertainty` is the
whole computation for one layer's block of units (`seldb uncertainty`).
"""
