-- seldb.layer_class_summary: one row per (run, layer, class), over the
-- layer's live units, computed at import (seldb/summaries.py): how strongly
-- the layer's units respond to the class on average, and how many units each
-- measure assigns to it. Whole-run questions per class answer from here at
-- once, where seldb.unit_class_stats would read every unit's arrays.
CREATE OR REPLACE VIEW seldb.layer_class_summary AS
SELECT
    s.run_id,
    r.model,
    l.name AS layer,
    c.label AS class,
    s.class_index,
    c.key AS class_key,
    c.n_analysed AS n,
    s.n_units,
    s.n_live_units,
    NULLIF(s.mean_of_means, 'NaN') AS mean_of_means,
    NULLIF(s.sd_of_means, 'NaN') AS sd_of_means,
    NULLIF(s.max_of_means, 'NaN') AS max_of_means,
    NULLIF(s.mean_frac_nonzero, 'NaN') AS mean_frac_nonzero,
    NULLIF(s.max_class_informedness, 'NaN') AS max_class_informedness,
    s.n_ccmas_class,
    s.n_precision_60_class,
    s.n_mi_class,
    s.n_claimed,
    s.n_zero::double precision / NULLIF(c.n_analysed::bigint * s.n_units, 0) AS zero_share
FROM seldb_store.layer_class_summary AS s
JOIN seldb_store.runs AS r ON r.run_id = s.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = s.run_id AND l.layer_id = s.layer_id
JOIN seldb_store.run_classes AS c ON c.run_id = s.run_id AND c.class_index = s.class_index;
