"""Engines: where the blocks of units of an import are measured.

`blocks` is the local engine (worker threads measure blocks read ahead, the
caller writes their results in order) and the one block loop every pass over
an activation file uses (import, concepts, uncertainty); `ray_blocks` runs
the same blocks as tasks on a Ray cluster, with the same contract, so either
engine gives identical rows (docs/ray.md). Nothing here touches the database.
"""
