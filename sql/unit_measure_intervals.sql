-- seldb.unit_measure_intervals: one row per (unit, measure) of the layers with
-- bootstrap replicates: the point estimate, its interval at `level`, how many
-- replicates it rests on and how often they picked the point estimate's class.
-- valid/reason: whether the interval covers at its level for this unit, and why
-- not (seldb/measures/resampling/validity.py; the best-class measure CCMAS
-- (both forms) also needs the chance baseline's q <= 0.05 of the same row: the
-- Benjamini-Hochberg q-value over the layer's units).
-- E.g. units called detectors whose precision may well be a fluke:
--   SELECT * FROM seldb.unit_measure_intervals
--   WHERE measure = 'precision_60' AND estimate > 0.75 AND lo < 0.5;
CREATE OR REPLACE VIEW seldb.unit_measure_intervals AS
SELECT
    u.run_id,
    l.name AS layer,
    u.unit,
    l.name || '.' || u.unit AS unit_label,
    u.measure,
    u.estimate,
    u.lo,
    u.hi,
    s.level,
    u.replicates,
    u.class_stability,
    u.class_lo,
    u.class_hi,
    u.method,
    u.bias,
    CASE
        WHEN u.valid IS NOT TRUE OR u.measure NOT IN ('ccmas', 'ccmas_morcos') THEN u.valid
        WHEN u.q IS NULL OR u.q = 'NaN' THEN NULL
        ELSE u.q <= 0.05
    END AS valid,
    CASE
        WHEN u.valid IS NOT TRUE OR u.measure NOT IN ('ccmas', 'ccmas_morcos') THEN u.reason
        WHEN u.q IS NULL OR u.q = 'NaN' THEN 'best class chosen on the same images: valid only with a chance baseline (run the permutations)'
        WHEN u.q > 0.05 THEN 'no class effect shown (q > 0.05 over the layer''s units): a maximum over classes is biased up'
    END AS reason,
    s.seed,
    u.run_id || ':' || l.name || '.' || u.unit AS unit_key
FROM seldb_store.unit_measure_uncertainty AS u
JOIN seldb_store.uncertainty_layers AS s ON s.run_id = u.run_id AND s.layer_id = u.layer_id
JOIN seldb_store.run_layers AS l ON l.run_id = u.run_id AND l.layer_id = u.layer_id
WHERE s.bootstrap > 0;
