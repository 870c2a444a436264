-- seldb.layer_summary: one row per (run, layer, measure), the numbers behind
-- box plots of every summarised measure of seldb.catalogue (NULLs ignored,
-- sem with ddof = 1, quartiles by percentile_cont). The LATERAL VALUES list
-- unpivots the measure columns; run_id, layer and measure filters apply
-- before the aggregation.
CREATE OR REPLACE VIEW seldb.layer_summary AS
SELECT
    m.run_id,
    m.model,
    m.layer,
    v.measure,
    count(v.value)::integer AS n_units,
    avg(v.value) AS mean,
    stddev_samp(v.value) / sqrt(NULLIF(count(v.value), 0)) AS sem,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value) AS median,
    percentile_cont(0.25) WITHIN GROUP (ORDER BY v.value) AS q25,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY v.value) AS q75,
    min(v.value) AS min,
    max(v.value) AS max
FROM seldb.unit_measures AS m
CROSS JOIN LATERAL (
    VALUES
        {{layer_summary_values}}
) AS v(measure, value)
GROUP BY m.run_id, m.model, m.layer, v.measure;
