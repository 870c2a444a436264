-- seldb.layers: one row per (run, layer) of complete runs.
CREATE OR REPLACE VIEW seldb.layers AS
SELECT
    l.run_id,
    l.name AS layer,
    l.n_units,
    l.reduction
FROM seldb_store.run_layers AS l
JOIN seldb_store.runs AS r ON r.run_id = l.run_id AND r.status = 'complete';
