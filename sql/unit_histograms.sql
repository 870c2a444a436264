-- seldb.unit_histograms: one row per (unit, class) with that class's bin counts.
-- unit_arrays.hist_counts is class-major: class_index c owns elements
-- c*n_bins+1 .. (c+1)*n_bins. Every bin of a unit spans bin_width from bin_lo.
--
-- Why this shape (as seldb.unit_class_stats): hist_counts is a large TOASTed
-- array (classes x bins). `d` copies it (and n_zero) out of TOAST storage once
-- per unit (array_cat with an empty array returns the detoasted input; OFFSET
-- 0 keeps the planner from merging `d` into the outer query, where every slice
-- would detoast the whole array again), and generate_series makes one row per
-- class. A query that reads no count (count(*), GROUP BY layer) touches no
-- array but n_zero: PostgreSQL drops the unused outputs of `d`, and the LEFT
-- JOIN to run_classes on its primary key when no class column is used.
CREATE OR REPLACE VIEW seldb.unit_histograms AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    s.i - 1 AS class_index,
    a.hist_lo AS bin_lo,
    a.hist_width AS bin_width,
    a.n_bins,
    d.n_zero[s.i] AS n_zero,
    d.counts[(s.i - 1) * a.n_bins + 1 : s.i * a.n_bins] AS counts,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT array_cat(a.hist_counts, '{}'::integer[]) AS counts, array_cat(a.n_zero, '{}'::integer[]) AS n_zero
    OFFSET 0
) AS d
CROSS JOIN LATERAL generate_series(1, cardinality(a.n_zero)) AS s(i)
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = s.i - 1;
