-- seldb.layer_summary_variants: the numbers behind box plots of every
-- summarised measure of seldb.catalogue (the paper's Figure 2), per (run,
-- layer, measure), twice: over the live units only (includes_dead false) and
-- over every unit (includes_dead true). NULLs are ignored, sem has ddof = 1,
-- quartiles are percentile_cont. n_dead counts the layer's dead units (left
-- out of the live rows), once per output row after the aggregation.
-- seldb.layer_summary and seldb.layer_summary_with_dead show one variant
-- each. The LATERAL VALUES list unpivots the measure columns (expanded from
-- the catalogue); filters on run_id, layer and measure apply before the
-- aggregation.
CREATE OR REPLACE VIEW seldb.layer_summary_variants AS
SELECT
    g.run_id,
    g.model,
    g.layer,
    g.measure,
    g.includes_dead,
    g.n_units,
    g.mean,
    g.sem,
    g.median,
    g.q25,
    g.q75,
    g.min,
    g.max,
    (SELECT count(*)::integer FROM seldb_store.unit_measures AS d
     JOIN seldb_store.run_layers AS dl ON dl.run_id = d.run_id AND dl.layer_id = d.layer_id
     WHERE d.run_id = g.run_id AND dl.name = g.layer AND d.is_dead) AS n_dead
FROM (
    SELECT
        m.run_id,
        m.model,
        m.layer,
        v.measure,
        d.includes_dead,
        count(v.value)::integer AS n_units,
        avg(v.value) AS mean,
        stddev_samp(v.value) / sqrt(NULLIF(count(v.value), 0)) AS sem,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value) AS median,
        percentile_cont(0.25) WITHIN GROUP (ORDER BY v.value) AS q25,
        percentile_cont(0.75) WITHIN GROUP (ORDER BY v.value) AS q75,
        min(v.value) AS min,
        max(v.value) AS max
    FROM seldb.unit_measures AS m
    CROSS JOIN (VALUES (false), (true)) AS d(includes_dead)
    CROSS JOIN LATERAL (
        VALUES
            {{layer_summary_values}}
    ) AS v(measure, value)
    WHERE d.includes_dead OR NOT COALESCE(m.is_dead, false)
    GROUP BY m.run_id, m.model, m.layer, v.measure, d.includes_dead
) AS g;
