-- seldb.layer_summary_with_dead: seldb.layer_summary over every unit, dead
-- ones included (n_dead says how many of n_units are dead).
CREATE OR REPLACE VIEW seldb.layer_summary_with_dead AS
SELECT run_id, model, layer, measure, n_units, mean, sem, median, q25, q75, min, max, n_dead
FROM seldb.layer_summary_variants
WHERE includes_dead;
