-- seldb.netdissect: the imported Network Dissection tallies (`seldb import
-- netdissect`), one row per (unit, label): the unit's top label (is_top, with
-- NetDissect's score) and the best label of every other category, each with
-- its IoU, beside the unit's precision, CCMAS and informedness, so that "do
-- the units Network Dissection calls object detectors pass the other
-- measures?" is one query. Units without a tally row are absent.
CREATE OR REPLACE VIEW seldb.netdissect AS
SELECT
    nd.run_id,
    r.model,
    l.name AS layer,
    nd.unit,
    l.name || '.' || nd.unit AS unit_label,
    nd.category,
    nd.label,
    nd.score IS NOT NULL AS is_top,
    NULLIF(nd.score, 'NaN') AS score,
    NULLIF(nd.iou, 'NaN') AS iou,
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
    nd.run_id || ':' || l.name || '.' || nd.unit AS unit_key
FROM seldb_store.netdissect AS nd
JOIN seldb_store.runs AS r ON r.run_id = nd.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = nd.run_id AND l.layer_id = nd.layer_id
LEFT JOIN seldb.unit_measures AS m ON m.run_id = nd.run_id AND m.layer = l.name AND m.unit = nd.unit;
