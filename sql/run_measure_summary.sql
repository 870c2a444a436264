-- seldb.run_measure_summary: one row per (run, layer, measure, criterion), and
-- one per (run, measure, criterion) with layer NULL for all layers together:
-- the distribution of the measure over the live units (dead units left out,
-- as in seldb.layer_summary) and how many units meet the paper's criterion
-- for it: precision_60 > 0.75, localist (localist_margin > 0), recall_p1 >=
-- 0.5 and >= 0.99, max_informedness >= 0.9, mi_false_discovery_rate <= 0.1;
-- ccmas has no criterion (NULL). What `seldb report compare` puts side by
-- side for two runs (neurons and SAE latents, two seeds, two networks).
CREATE OR REPLACE VIEW seldb.run_measure_summary AS
SELECT
    m.run_id,
    m.model,
    m.layer,
    c.measure,
    c.criterion,
    count(c.value)::integer AS n_units,
    min(c.value) AS min,
    percentile_cont(0.25) WITHIN GROUP (ORDER BY c.value) AS q25,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY c.value) AS median,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY c.value) AS q75,
    max(c.value) AS max,
    avg(c.value) AS mean,
    CASE WHEN c.criterion IS NULL THEN NULL ELSE count(*) FILTER (WHERE c.meets)::integer END AS n_meeting,
    CASE WHEN c.criterion IS NULL THEN NULL
         ELSE count(*) FILTER (WHERE c.meets)::double precision / NULLIF(count(*), 0) END AS share_meeting
FROM seldb.unit_measures AS m
CROSS JOIN LATERAL (
    VALUES
        ('precision_60', '> 0.75', m.precision_60, m.precision_60 > 0.75),
        ('ccmas', NULL, m.ccmas, NULL),
        ('localist_margin', '> 0 (localist)', m.localist_margin, m.is_localist),
        ('recall_p1', '>= 0.5', m.recall_p1, m.recall_p1 >= 0.5),
        ('recall_p1', '>= 0.99', m.recall_p1, m.recall_p1 >= 0.99),
        ('max_informedness', '>= 0.9', m.max_informedness, m.max_informedness >= 0.9),
        ('mi_false_discovery_rate', '<= 0.1', m.mi_false_discovery_rate, m.mi_false_discovery_rate <= 0.1)
) AS c(measure, criterion, value, meets)
WHERE NOT COALESCE(m.is_dead, false)
GROUP BY GROUPING SETS (
    (m.run_id, m.model, m.layer, c.measure, c.criterion),
    (m.run_id, m.model, c.measure, c.criterion)
);
