-- seldb.unit_histograms: one row per (unit, class) with that class's bin counts.
-- unit_arrays.hist_counts is class-major: class_index c owns elements
-- c*n_bins+1 .. (c+1)*n_bins. Every bin of a unit spans bin_width from bin_lo.
--
-- Why the two OFFSET 0 subqueries: hist_counts is a large TOASTed array
-- (classes x bins), and PostgreSQL detoasts it again for every slice taken
-- straight from the table row, which made one 1000-class unit cost 1000 full
-- decompressions. `h` detoasts it once per unit (array_cat with an empty array
-- returns the detoasted input), OFFSET 0 keeps the planner from merging `h`
-- and `x` into the outer query, so the slices are cut inside `x` and only
-- n_bins counts per row travel through the joins above.
CREATE OR REPLACE VIEW seldb.unit_histograms AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    c.class_index,
    a.hist_lo AS bin_lo,
    a.hist_width AS bin_width,
    a.n_bins,
    x.n_zero,
    x.counts,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT
        (z.ord - 1)::integer AS class_index,
        z.n_zero,
        h.counts[(z.ord - 1)::integer * a.n_bins + 1 : z.ord::integer * a.n_bins] AS counts
    FROM (SELECT array_cat(a.hist_counts, '{}'::integer[]) AS counts, a.n_zero OFFSET 0) AS h
    CROSS JOIN LATERAL unnest(h.n_zero) WITH ORDINALITY AS z(n_zero, ord)
    OFFSET 0
) AS x
JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = x.class_index;
