-- seldb.measure_correlations: one row per (run, layer, pair of measures) over
-- the live units (the paper's Table A2; dead units would add ties that make
-- correlations look stronger than they are). Layer NULL: all layers together.
-- seldb.measure_correlations_with_dead keeps the dead units.
CREATE OR REPLACE VIEW seldb.measure_correlations AS
SELECT run_id, model, layer, measure_a, measure_b, n_units, pearson_r, pearson_p, spearman_rho, spearman_p
FROM seldb.measure_correlations_variants
WHERE NOT includes_dead;
