-- seldb.am_ratings: human ratings of activation-maximisation (AM) images
-- (`seldb import ratings`), one row per (unit, rater): did the rater see an
-- object, and which. label_key is the label as compared: lower case, spaces
-- collapsed, mapped through the synonym file given at import (a synonym group
-- holding one of the run's class names maps to that name). top_class is the
-- class of the unit's most active image, ccmas_class the class with the
-- highest mean activation; the matches are NULL when the rater gave no label.
CREATE OR REPLACE VIEW seldb.am_ratings AS
SELECT
    ar.run_id,
    r.model,
    l.name AS layer,
    ar.unit,
    l.name || '.' || ar.unit AS unit_label,
    ar.rater,
    ar.judged_object,
    ar.label,
    ar.label_key,
    c_top.label AS top_class,
    c_ccmas.label AS ccmas_class,
    ar.label_key = lower(c_top.name) AS matches_top_class,
    ar.label_key = lower(c_ccmas.name) AS matches_ccmas_class,
    ar.run_id || ':' || l.name || '.' || ar.unit AS unit_key
FROM seldb_store.am_ratings AS ar
JOIN seldb_store.runs AS r ON r.run_id = ar.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = ar.run_id AND l.layer_id = ar.layer_id
LEFT JOIN seldb_store.unit_arrays AS a ON a.run_id = ar.run_id AND a.layer_id = ar.layer_id AND a.unit = ar.unit
LEFT JOIN seldb_store.run_images AS i ON i.run_id = a.run_id AND i.image_index = a.top_image[1]
LEFT JOIN seldb_store.run_classes AS c_top ON c_top.run_id = i.run_id AND c_top.class_index = i.label
LEFT JOIN seldb_store.unit_measures AS m ON m.run_id = ar.run_id AND m.layer_id = ar.layer_id AND m.unit = ar.unit
LEFT JOIN seldb_store.run_classes AS c_ccmas ON c_ccmas.run_id = m.run_id AND c_ccmas.class_index = m.ccmas_class;
