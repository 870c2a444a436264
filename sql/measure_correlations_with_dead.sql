-- seldb.measure_correlations_with_dead: seldb.measure_correlations over every
-- unit, dead ones included (as seldb computed them before 0.2).
CREATE OR REPLACE VIEW seldb.measure_correlations_with_dead AS
SELECT run_id, model, layer, measure_a, measure_b, n_units, pearson_r, pearson_p, spearman_rho, spearman_p
FROM seldb.measure_correlations_variants
WHERE includes_dead;
