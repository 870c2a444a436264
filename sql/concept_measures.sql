-- seldb.concept_measures: one row per (unit, concept): each measure of a set
-- of classes A (the concept) against all other images, with the Network
-- Dissection IoU of the unit's tally row whose label is the concept's name
-- (case-insensitive; NULL when no tally was imported or none matches).
CREATE OR REPLACE VIEW seldb.concept_measures AS
SELECT
    cm.run_id,
    r.model,
    l.name AS layer,
    cm.unit,
    l.name || '.' || cm.unit AS unit_label,
    c.name AS concept,
    cm.n_a,
    cm.n_not_a,
    NULLIF(cm.mean_a, 'NaN') AS mean_a,
    NULLIF(cm.mean_not_a, 'NaN') AS mean_not_a,
    NULLIF(cm.sem_a, 'NaN') AS sem_a,
    NULLIF(cm.sem_not_a, 'NaN') AS sem_not_a,
    NULLIF(cm.frac_nonzero_a, 'NaN') AS frac_nonzero_a,
    NULLIF(cm.frac_nonzero_not_a, 'NaN') AS frac_nonzero_not_a,
    NULLIF(cm.precision_60, 'NaN') AS precision_60,
    NULLIF(cm.precision_100, 'NaN') AS precision_100,
    NULLIF(cm.ccmas, 'NaN') AS ccmas,
    NULLIF(cm.max_informedness, 'NaN') AS max_informedness,
    NULLIF(cm.mi_threshold, 'NaN') AS mi_threshold,
    NULLIF(cm.mi_recall, 'NaN') AS mi_recall,
    NULLIF(cm.mi_false_alarm_rate, 'NaN') AS mi_false_alarm_rate,
    NULLIF(cm.mi_false_discovery_rate, 'NaN') AS mi_false_discovery_rate,
    NULLIF(cm.recall_p1, 'NaN') AS recall_p1,
    NULLIF(cm.recall_p95, 'NaN') AS recall_p95,
    (
        -- a scalar subquery, not a join: two tally labels differing only in case cannot duplicate the row
        SELECT max(NULLIF(nd.iou, 'NaN'))
        FROM seldb_store.netdissect AS nd
        WHERE nd.run_id = cm.run_id AND nd.layer_id = cm.layer_id AND nd.unit = cm.unit
          AND lower(nd.label) = lower(c.name)
    ) AS iou
FROM seldb_store.concept_measures AS cm
JOIN seldb_store.runs AS r ON r.run_id = cm.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = cm.run_id AND l.layer_id = cm.layer_id
JOIN seldb_store.concepts AS c ON c.concept_id = cm.concept_id;
