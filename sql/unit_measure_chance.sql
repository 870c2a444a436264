-- seldb.unit_measure_chance: one row per (unit, measure) of the layers with
-- permutation replicates: what the measure reads when the labels are shuffled
-- (null mean and percentiles), the permutation p-value of the point estimate
-- and its Benjamini-Hochberg q-value over the layer's units.
CREATE OR REPLACE VIEW seldb.unit_measure_chance AS
SELECT
    u.run_id,
    l.name AS layer,
    u.unit,
    l.name || '.' || u.unit AS unit_label,
    u.measure,
    u.estimate,
    u.direction,
    u.p,
    u.q,
    u.q < 0.05 AS beats_chance,
    u.permutations,
    u.null_mean,
    u.null_p01,
    u.null_p05,
    u.null_p95,
    u.null_p99,
    coalesce(s.permutation_seed, s.seed) AS seed,
    u.run_id || ':' || l.name || '.' || u.unit AS unit_key
FROM seldb_store.unit_measure_uncertainty AS u
JOIN seldb_store.uncertainty_layers AS s ON s.run_id = u.run_id AND s.layer_id = u.layer_id
JOIN seldb_store.run_layers AS l ON l.run_id = u.run_id AND l.layer_id = u.layer_id
WHERE s.permutations > 0;
