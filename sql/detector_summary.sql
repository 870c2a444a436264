-- seldb.detector_summary: one row per (run, layer), and one per run with
-- layer NULL for all layers together: how many units the precision criterion
-- (precision_60 > 0.75, seldb.detector_claims) calls object detectors, and
-- how good those "detectors" are by the measures that count misses and false
-- alarms. The numbers behind the verdict of `seldb report detectors`.
-- n_fdr_at_least_half: claimed units wrong at least half the time they fire
-- at their best informedness threshold (mi_false_discovery_rate >= 0.5).
-- n_robust: claims that survive resampling and chance (detector_claims.survives),
-- out of n_assessed claims whose layer has intervals and a chance baseline.
CREATE OR REPLACE VIEW seldb.detector_summary AS
WITH units AS (
    SELECT m.run_id, m.model, m.layer, count(*)::integer AS n_units
    FROM seldb.unit_measures AS m
    GROUP BY GROUPING SETS ((m.run_id, m.model, m.layer), (m.run_id, m.model))
),
claims AS (
    SELECT
        d.run_id,
        d.layer,
        count(*)::integer AS n_claimed,
        count(*) FILTER (WHERE d.classes_agree)::integer AS n_classes_agree,
        count(*) FILTER (WHERE d.mi_false_discovery_rate >= 0.5)::integer AS n_fdr_at_least_half,
        count(*) FILTER (WHERE d.recall_p1 >= 0.5)::integer AS n_recall_p1_at_least_half,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.recall_p1) AS median_recall_p1,
        max(d.recall_p1) AS max_recall_p1,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.max_informedness) AS median_max_informedness,
        max(d.max_informedness) AS max_max_informedness,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_recall) AS median_mi_recall,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_false_alarm_rate) AS median_mi_false_alarm_rate,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_false_discovery_rate) AS median_mi_false_discovery_rate,
        count(d.survives)::integer AS n_assessed,
        count(*) FILTER (WHERE d.survives)::integer AS n_robust
    FROM seldb.detector_claims AS d
    GROUP BY GROUPING SETS ((d.run_id, d.layer), (d.run_id))
)
SELECT
    u.run_id,
    u.model,
    u.layer,
    u.n_units,
    COALESCE(c.n_claimed, 0) AS n_claimed,
    100.0::double precision * COALESCE(c.n_claimed, 0) / u.n_units AS pct_claimed,
    COALESCE(c.n_classes_agree, 0) AS n_classes_agree,
    COALESCE(c.n_fdr_at_least_half, 0) AS n_fdr_at_least_half,
    COALESCE(c.n_recall_p1_at_least_half, 0) AS n_recall_p1_at_least_half,
    c.median_recall_p1,
    c.max_recall_p1,
    c.median_max_informedness,
    c.max_max_informedness,
    c.median_mi_recall,
    c.median_mi_false_alarm_rate,
    c.median_mi_false_discovery_rate,
    COALESCE(c.n_assessed, 0) AS n_assessed,
    COALESCE(c.n_robust, 0) AS n_robust
FROM units AS u
LEFT JOIN claims AS c ON c.run_id = u.run_id AND c.layer IS NOT DISTINCT FROM u.layer;
