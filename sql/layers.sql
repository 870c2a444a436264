-- seldb.layers: one row per (run, layer).
CREATE OR REPLACE VIEW seldb.layers AS
SELECT
    l.run_id,
    l.name AS layer,
    l.n_units,
    l.reduction
FROM seldb_store.run_layers AS l;
