-- seldb.unit_measures: one row per unit of a complete run.
-- Class columns show the class label (the name made unique within the run);
-- the LEFT JOINs hit run_classes' primary key, so PostgreSQL drops those a
-- query does not use. NULLIF(x, 'NaN') because the bulk loader may write NaN
-- for "no value", and a NaN would poison every aggregate over the view.
CREATE OR REPLACE VIEW seldb.unit_measures AS
SELECT
    m.run_id,
    r.model,
    r.dataset,
    l.name AS layer,
    m.unit,
    l.name || '.' || m.unit AS unit_label,
    m.n_images,
    NULLIF(m.ccmas, 'NaN') AS ccmas,
    c_ccmas.label AS ccmas_class,
    NULLIF(m.ccmas2, 'NaN') AS ccmas2,
    c_ccmas2.label AS ccmas2_class,
    NULLIF(m.ccmas_morcos, 'NaN') AS ccmas_morcos,
    NULLIF(m.precision_60, 'NaN') AS precision_60,
    c_p60.label AS precision_60_class,
    NULLIF(m.precision_100, 'NaN') AS precision_100,
    c_p100.label AS precision_100_class,
    m.n_classes_top100,
    NULLIF(m.localist_margin, 'NaN') AS localist_margin,
    m.is_localist,
    NULLIF(m.recall_p1, 'NaN') AS recall_p1,
    c_r1.label AS recall_p1_class,
    NULLIF(m.recall_p1_threshold, 'NaN') AS recall_p1_threshold,
    NULLIF(m.recall_p95, 'NaN') AS recall_p95,
    c_r95.label AS recall_p95_class,
    NULLIF(m.recall_p95_threshold, 'NaN') AS recall_p95_threshold,
    NULLIF(m.max_informedness, 'NaN') AS max_informedness,
    c_mi.label AS mi_class,
    NULLIF(m.mi_threshold, 'NaN') AS mi_threshold,
    NULLIF(m.mi_recall, 'NaN') AS mi_recall,
    NULLIF(m.mi_specificity, 'NaN') AS mi_specificity,
    NULLIF(m.mi_false_alarm_rate, 'NaN') AS mi_false_alarm_rate,
    NULLIF(m.mi_false_discovery_rate, 'NaN') AS mi_false_discovery_rate,
    NULLIF(m.mi_precision, 'NaN') AS mi_precision
FROM seldb_store.unit_measures AS m
JOIN seldb_store.runs AS r ON r.run_id = m.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = m.run_id AND l.layer_id = m.layer_id
LEFT JOIN seldb_store.run_classes AS c_ccmas ON c_ccmas.run_id = m.run_id AND c_ccmas.class_index = m.ccmas_class
LEFT JOIN seldb_store.run_classes AS c_ccmas2 ON c_ccmas2.run_id = m.run_id AND c_ccmas2.class_index = m.ccmas2_class
LEFT JOIN seldb_store.run_classes AS c_p60 ON c_p60.run_id = m.run_id AND c_p60.class_index = m.precision_60_class
LEFT JOIN seldb_store.run_classes AS c_p100 ON c_p100.run_id = m.run_id AND c_p100.class_index = m.precision_100_class
LEFT JOIN seldb_store.run_classes AS c_r1 ON c_r1.run_id = m.run_id AND c_r1.class_index = m.recall_p1_class
LEFT JOIN seldb_store.run_classes AS c_r95 ON c_r95.run_id = m.run_id AND c_r95.class_index = m.recall_p95_class
LEFT JOIN seldb_store.run_classes AS c_mi ON c_mi.run_id = m.run_id AND c_mi.class_index = m.mi_class;
