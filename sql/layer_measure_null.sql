-- seldb.layer_measure_null: one row per (run, layer, measure) with permutation
-- replicates: the chance level of the measure in that layer (its values under
-- shuffled labels, pooled over every unit and permutation), and how many of
-- the layer's units beat it (BH q < 0.05).
CREATE OR REPLACE VIEW seldb.layer_measure_null AS
SELECT
    n.run_id,
    l.name AS layer,
    n.measure,
    n.direction,
    s.permutations,
    n.null_values,
    n.null_mean,
    n.null_p01,
    n.null_p05,
    n.null_p95,
    n.null_p99,
    c.n_units,
    c.n_beats_chance,
    100.0::double precision * c.n_beats_chance / NULLIF(c.n_units, 0) AS pct_beats_chance
FROM seldb_store.layer_measure_null AS n
JOIN seldb_store.uncertainty_layers AS s ON s.run_id = n.run_id AND s.layer_id = n.layer_id
JOIN seldb_store.run_layers AS l ON l.run_id = n.run_id AND l.layer_id = n.layer_id
LEFT JOIN LATERAL (
    SELECT count(u.p)::integer AS n_units, count(*) FILTER (WHERE u.q < 0.05)::integer AS n_beats_chance
    FROM seldb_store.unit_measure_uncertainty AS u
    WHERE u.run_id = n.run_id AND u.layer_id = n.layer_id AND u.measure = n.measure
) AS c ON true;
