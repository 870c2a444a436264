-- seldb.unit_precision_k: top-k precision for every k of the run (60 and 100,
-- which unit_measures shows too, and any other k asked for at import), one
-- row per (unit, k).
CREATE OR REPLACE VIEW seldb.unit_precision_k AS
SELECT
    p.run_id,
    l.name AS layer,
    p.unit,
    l.name || '.' || p.unit AS unit_label,
    p.k,
    NULLIF(p.precision, 'NaN') AS precision,
    c.label AS class,
    p.run_id || ':' || l.name || '.' || p.unit AS unit_key
FROM seldb_store.unit_precision_k AS p
JOIN seldb_store.run_layers AS l ON l.run_id = p.run_id AND l.layer_id = p.layer_id
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = p.run_id AND c.class_index = p.class_index;
