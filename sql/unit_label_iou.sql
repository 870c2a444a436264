-- seldb.unit_label_iou: one row per (dissected unit, label) of `seldb dissect`:
-- the unit's intersection, union and IoU with every label of the Broden-format
-- dataset's chosen categories (zeros included), beside the unit's
-- class-selectivity measures (NULL when the run has none: a run that dissect
-- made itself), for cross-measure queries such as "the IoU of every unit with
-- `car` against its precision". union_pixels = activation + truth - intersection,
-- where activation counts the unit's thresholded pixels in the images the
-- dissection's union rule names (`rules`: by default NetDissect-Lite's, the
-- images where the label's category lies under them; see docs/dissect.md);
-- iou = intersection / (union_pixels + 1e-10).
CREATE OR REPLACE VIEW seldb.unit_label_iou AS
SELECT
    d.run_id,
    r.model,
    l.name AS layer,
    i.unit,
    l.name || '.' || i.unit AS unit_label,
    lb.category,
    lb.name AS label,
    i.label_number,
    i.iou,
    i.intersection,
    i.activation + lb.truth - i.intersection AS union_pixels,
    i.activation,
    lb.truth,
    d.thresholds[i.unit + 1] AS threshold,
    m.precision_60,
    m.precision_60_class,
    m.ccmas,
    m.ccmas_class,
    m.recall_p1,
    m.max_informedness,
    m.mi_class,
    d.dissection_id,
    d.quantile,
    d.dataset,
    d.rules,
    d.run_id || ':' || l.name || '.' || i.unit AS unit_key
FROM seldb_store.dissection_iou AS i
JOIN seldb_store.dissections AS d ON d.dissection_id = i.dissection_id
JOIN seldb_store.dissection_labels AS lb ON lb.dissection_id = i.dissection_id AND lb.label_number = i.label_number
JOIN seldb_store.runs AS r ON r.run_id = d.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = d.run_id AND l.layer_id = d.layer_id
LEFT JOIN seldb.unit_measures AS m ON m.run_id = d.run_id AND m.layer = l.name AND m.unit = i.unit;
