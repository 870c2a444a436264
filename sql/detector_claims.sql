-- seldb.detector_claims: units that Zhou et al. (2015)'s criterion,
-- precision_60 > 0.75, calls object detectors, beside the measures that say
-- how good a detector each really is. classes_agree: the precision, CCMAS and
-- max-informedness classes are one class (false when any is missing).
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
    m.unit_key
FROM seldb.unit_measures AS m
WHERE m.precision_60 > 0.75;
