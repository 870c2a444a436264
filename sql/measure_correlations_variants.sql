-- seldb.measure_correlations_variants: the pairwise correlations between
-- measures across units that the importer computed (scipy: PostgreSQL has no
-- t distribution for the p-values), over the live units (includes_dead false)
-- and over every unit (includes_dead true); layer NULL means all layers of the
-- run together. seldb.measure_correlations and
-- seldb.measure_correlations_with_dead show one variant each.
CREATE OR REPLACE VIEW seldb.measure_correlations_variants AS
SELECT
    mc.run_id,
    r.model,
    l.name AS layer,
    mc.measure_a,
    mc.measure_b,
    mc.includes_dead,
    mc.n_units,
    NULLIF(mc.pearson_r, 'NaN') AS pearson_r,
    NULLIF(mc.pearson_p, 'NaN') AS pearson_p,
    NULLIF(mc.spearman_rho, 'NaN') AS spearman_rho,
    NULLIF(mc.spearman_p, 'NaN') AS spearman_p
FROM seldb_store.measure_correlations AS mc
JOIN seldb_store.runs AS r ON r.run_id = mc.run_id
LEFT JOIN seldb_store.run_layers AS l ON l.run_id = mc.run_id AND l.layer_id = mc.layer_id;
