-- seldb.layer_summary: one row per (run, layer, measure), the numbers behind
-- box plots of every numeric measure of unit_measures (NULLs ignored, sem with
-- ddof = 1, quartiles by percentile_cont). The LATERAL VALUES list unpivots
-- the measure columns; run_id, layer and measure filters apply before the
-- aggregation.
CREATE OR REPLACE VIEW seldb.layer_summary AS
SELECT
    m.run_id,
    m.model,
    m.layer,
    v.measure,
    count(v.value)::integer AS n_units,
    avg(v.value) AS mean,
    stddev_samp(v.value) / sqrt(NULLIF(count(v.value), 0)) AS sem,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value) AS median,
    percentile_cont(0.25) WITHIN GROUP (ORDER BY v.value) AS q25,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY v.value) AS q75,
    min(v.value) AS min,
    max(v.value) AS max
FROM seldb.unit_measures AS m
CROSS JOIN LATERAL (
    VALUES
        ('precision_60', m.precision_60),
        ('precision_100', m.precision_100),
        ('n_classes_top100', m.n_classes_top100::double precision),
        ('ccmas', m.ccmas),
        ('ccmas2', m.ccmas2),
        ('ccmas_morcos', m.ccmas_morcos),
        ('localist_margin', m.localist_margin),
        ('recall_p1', m.recall_p1),
        ('recall_p1_threshold', m.recall_p1_threshold),
        ('recall_p95', m.recall_p95),
        ('recall_p95_threshold', m.recall_p95_threshold),
        ('max_informedness', m.max_informedness),
        ('mi_threshold', m.mi_threshold),
        ('mi_recall', m.mi_recall),
        ('mi_specificity', m.mi_specificity),
        ('mi_false_alarm_rate', m.mi_false_alarm_rate),
        ('mi_false_discovery_rate', m.mi_false_discovery_rate),
        ('mi_precision', m.mi_precision)
) AS v(measure, value)
GROUP BY m.run_id, m.model, m.layer, v.measure;
