-- seldb.unit_class_stats: one row per (unit, class), read from the per-unit
-- arrays of seldb_store.unit_arrays (element i belongs to class_index i - 1).
--
-- Why this shape: the arrays are large and TOASTed. `d` copies each array out
-- of its TOAST storage once per unit (array_cat with an empty array returns
-- the detoasted input; OFFSET 0 keeps the planner from merging `d` into the
-- outer query, where every subscript would detoast the whole array again),
-- and generate_series makes the rows. A query that reads no per-class number
-- (count(*), GROUP BY layer) touches no array at all: PostgreSQL drops the
-- unused outputs of `d`, and the LEFT JOIN to run_classes on its primary key
-- when no class column is used. Filters on run_id, layer, unit and
-- unit_label apply before any row is made. NaN in the arrays means NULL.
CREATE OR REPLACE VIEW seldb.unit_class_stats AS
SELECT
    a.run_id,
    r.model,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    s.i - 1 AS class_index,
    c.key AS class_key,
    c.n_analysed AS n,
    NULLIF(d.mean[s.i], 'NaN') AS mean,
    NULLIF(d.std[s.i], 'NaN') AS std,
    NULLIF(d.std[s.i], 'NaN') / sqrt(NULLIF(c.n_analysed, 0)) AS sem,
    NULLIF(d.min[s.i], 'NaN') AS min,
    NULLIF(d.max[s.i], 'NaN') AS max,
    d.n_nonzero[s.i] AS n_nonzero,
    d.n_nonzero[s.i]::double precision / NULLIF(c.n_analysed, 0) AS frac_nonzero,
    NULLIF(d.ccmas[s.i], 'NaN') AS ccmas,
    NULLIF(d.mi[s.i], 'NaN') AS max_informedness,
    NULLIF(d.mi_threshold[s.i], 'NaN') AS mi_threshold,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.runs AS r ON r.run_id = a.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT
        array_cat(a.mean, '{}'::double precision[]) AS mean,
        array_cat(a.std, '{}'::double precision[]) AS std,
        array_cat(a.min, '{}'::double precision[]) AS min,
        array_cat(a.max, '{}'::double precision[]) AS max,
        array_cat(a.n_nonzero, '{}'::integer[]) AS n_nonzero,
        array_cat(a.ccmas, '{}'::double precision[]) AS ccmas,
        array_cat(a.mi, '{}'::double precision[]) AS mi,
        array_cat(a.mi_threshold, '{}'::double precision[]) AS mi_threshold
    OFFSET 0
) AS d
CROSS JOIN LATERAL generate_series(1, cardinality(a.n_zero)) AS s(i)
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = s.i - 1;
