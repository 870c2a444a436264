-- seldb.detector_claims: units that Zhou et al. (2015)'s criterion,
-- precision_60 > 0.75, calls object detectors, beside the measures that say
-- how good a detector each really is. classes_agree: the precision, CCMAS and
-- max-informedness classes are one class (false when any is missing).
-- survives: the claim holds up to resampling and to chance (seldb
-- uncertainty): precision_60's lower bound > 0.75 and its q-value < 0.05;
-- NULL where the unit's layer has no intervals or no chance baseline.
CREATE OR REPLACE VIEW seldb.detector_claims AS
SELECT
    m.run_id,
    m.model,
    m.dataset,
    m.layer,
    m.unit,
    m.unit_label,
    m.precision_60,
    m.precision_60_class,
    m.ccmas,
    m.ccmas_class,
    m.recall_p1,
    m.max_informedness,
    m.mi_class,
    m.mi_recall,
    m.mi_false_alarm_rate,
    m.mi_false_discovery_rate,
    COALESCE(m.precision_60_class = m.ccmas_class AND m.ccmas_class = m.mi_class, false) AS classes_agree,
    m.is_dead,
    m.unit_key,
    u.lo AS precision_60_lo,
    u.hi AS precision_60_hi,
    u.q AS precision_60_q,
    CASE WHEN u.lo IS NULL OR u.q IS NULL THEN NULL ELSE u.lo > 0.75 AND u.q < 0.05 END AS survives
FROM seldb.unit_measures AS m
LEFT JOIN seldb_store.run_layers AS rl ON rl.run_id = m.run_id AND rl.name = m.layer
LEFT JOIN seldb_store.unit_measure_uncertainty AS u
    ON u.run_id = m.run_id AND u.layer_id = rl.layer_id AND u.unit = m.unit AND u.measure = 'precision_60'
WHERE m.precision_60 > 0.75;
