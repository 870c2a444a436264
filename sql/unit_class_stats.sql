-- seldb.unit_class_stats: one row per (unit, class), unnested from the per-unit
-- arrays of seldb_store.unit_arrays (element i+1 belongs to class_index i).
-- One unnest() call over all arrays reads (and decompresses) each array once
-- per unit. Filters on run_id, layer, unit and unit_label apply to
-- unit_arrays before the unnest. NaN in the arrays means NULL.
CREATE OR REPLACE VIEW seldb.unit_class_stats AS
SELECT
    a.run_id,
    r.model,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    c.class_index,
    c.key AS class_key,
    c.n_analysed AS n,
    NULLIF(s.mean, 'NaN') AS mean,
    NULLIF(s.std, 'NaN') AS std,
    NULLIF(s.std, 'NaN') / sqrt(NULLIF(c.n_analysed, 0)) AS sem,
    NULLIF(s.min, 'NaN') AS min,
    NULLIF(s.max, 'NaN') AS max,
    s.n_nonzero,
    s.n_nonzero::double precision / NULLIF(c.n_analysed, 0) AS frac_nonzero,
    NULLIF(s.ccmas, 'NaN') AS ccmas,
    NULLIF(s.mi, 'NaN') AS max_informedness,
    NULLIF(s.mi_threshold, 'NaN') AS mi_threshold
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.runs AS r ON r.run_id = a.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL unnest(a.mean, a.std, a.min, a.max, a.n_nonzero, a.ccmas, a.mi, a.mi_threshold)
    WITH ORDINALITY AS s(mean, std, min, max, n_nonzero, ccmas, mi, mi_threshold, ord)
JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = (s.ord - 1)::integer;
