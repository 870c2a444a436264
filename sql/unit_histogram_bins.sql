-- seldb.unit_histogram_bins: the quantised activations in long form, one row
-- per (unit, class, bin) with the bin's edges and count, for BI tools that
-- chart or sum counts (seldb.unit_histograms holds them as one array per
-- (unit, class)). Large: units x classes x bins rows per run (270 million at
-- AlexNet scale with 32 bins), so filter on run_id and a unit or layer; for
-- whole-run numbers per class use seldb.layer_class_summary. A constant unit
-- has one bin of width 0. As in unit_histograms, each unit's counts array is
-- read out of its TOAST storage once (array_cat ... OFFSET 0).
CREATE OR REPLACE VIEW seldb.unit_histogram_bins AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key,
    c.label AS class,
    x.class_index,
    x.bin,
    a.hist_lo + x.bin * a.hist_width AS bin_lo,
    a.hist_lo + (x.bin + 1) * a.hist_width AS bin_hi,
    x.count
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT s.i / a.n_bins AS class_index, s.i % a.n_bins AS bin, h.counts[s.i + 1] AS count
    FROM (SELECT array_cat(a.hist_counts, '{}'::integer[]) AS counts OFFSET 0) AS h
    CROSS JOIN LATERAL generate_series(0, cardinality(a.hist_counts) - 1) AS s(i)
) AS x
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = x.class_index;
