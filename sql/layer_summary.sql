-- seldb.layer_summary: one row per (run, layer, measure) over the layer's live
-- units (views.md's columns, then n_dead: the dead units left out). Dead units
-- never rise above their lowest value and would pile up identical values;
-- seldb.layer_summary_with_dead keeps them.
CREATE OR REPLACE VIEW seldb.layer_summary AS
SELECT run_id, model, layer, measure, n_units, mean, sem, median, q25, q75, min, max, n_dead
FROM seldb.layer_summary_variants
WHERE NOT includes_dead;
