-- seldb.netdissect: Network Dissection labels of units, imported from a
-- tally.csv (`seldb import netdissect`, source 'imported') or computed by
-- `seldb dissect` (source 'computed', with its quantile, dataset and rules), one row
-- per (unit, label): the unit's top label (is_top, with NetDissect's score)
-- and the best label of every other category, each with its IoU, beside the
-- unit's precision, CCMAS and informedness, so that "do the units Network
-- Dissection calls object detectors pass the other measures?" is one query.
-- Units without a tally row are absent. A unit whose IoU is 0 with every
-- label keeps its top row with label NULL and score 0, as tally.csv has it.
-- is_detector: the top label's IoU exceeds 0.04, the cut above which Network
-- Dissection (Bau et al. 2017) calls a unit a detector of that label; an IoU
-- outside [0, 1] (NaN sorts above every number in PostgreSQL) never is one.
CREATE OR REPLACE VIEW seldb.netdissect AS
SELECT
    nd.run_id,
    r.model,
    l.name AS layer,
    nd.unit,
    l.name || '.' || nd.unit AS unit_label,
    nd.category,
    NULLIF(nd.label, '') AS label,
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
    nd.score IS NOT NULL AND nd.iou > 0.04 AND nd.iou <= 1 AS is_detector,
    nd.source,
    nd.dissection_id,
    d.quantile,
    d.dataset,
    d.rules,
    nd.run_id || ':' || l.name || '.' || nd.unit AS unit_key
FROM seldb_store.netdissect AS nd
JOIN seldb_store.runs AS r ON r.run_id = nd.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = nd.run_id AND l.layer_id = nd.layer_id
LEFT JOIN seldb_store.dissections AS d ON d.dissection_id = nd.dissection_id
LEFT JOIN seldb.unit_measures AS m ON m.run_id = nd.run_id AND m.layer = l.name AND m.unit = nd.unit;
