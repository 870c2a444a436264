-- seldb.high_precision_high_false_alarm: "detectors" by precision
-- (precision_60 > 0.75) that, at their best informedness threshold, are wrong
-- at least half the time they fire (mi_false_discovery_rate >= 0.5).
CREATE OR REPLACE VIEW seldb.high_precision_high_false_alarm AS
SELECT
    m.run_id,
    m.model,
    m.dataset,
    m.layer,
    m.unit,
    m.unit_label,
    m.precision_60,
    m.precision_60_class,
    m.max_informedness,
    m.mi_class,
    m.mi_threshold,
    m.mi_recall,
    m.mi_precision,
    m.mi_false_alarm_rate,
    m.mi_false_discovery_rate,
    m.recall_p1,
    m.unit_key
FROM seldb.unit_measures AS m
WHERE m.precision_60 > 0.75 AND m.mi_false_discovery_rate >= 0.5;
