-- seldb.uncertainty_layers: one row per (run, layer) that has bootstrap
-- intervals and/or a chance baseline (seldb uncertainty), with the settings
-- they were computed with.
CREATE OR REPLACE VIEW seldb.uncertainty_layers AS
SELECT
    s.run_id,
    l.name AS layer,
    s.bootstrap,
    s.permutations,
    s.seed,
    s.permutation_seed,
    s.level,
    s.engine,
    s.seldb_version,
    s.computed_at,
    s.seconds
FROM seldb_store.uncertainty_layers AS s
JOIN seldb_store.run_layers AS l ON l.run_id = s.run_id AND l.layer_id = s.layer_id;
