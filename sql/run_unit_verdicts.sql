-- seldb.run_unit_verdicts: one row per (run, layer, verdict), and one per
-- (run, verdict) with layer NULL for all layers together: how many units get
-- each verdict. 'strict detector': max_informedness >= 0.9 and
-- mi_false_discovery_rate <= 0.1 (it picks out most of its class with few
-- false alarms); 'precision only': precision_60 > 0.75 without that;
-- 'not selective': neither; 'dead': never above its lowest value. Every unit
-- gets exactly one verdict, so the counts add up to the layer's units.
CREATE OR REPLACE VIEW seldb.run_unit_verdicts AS
WITH judged AS (
    SELECT
        m.run_id,
        m.model,
        m.layer,
        CASE
            WHEN COALESCE(m.is_dead, false) THEN 'dead'
            WHEN m.max_informedness >= 0.9 AND m.mi_false_discovery_rate <= 0.1 THEN 'strict detector'
            WHEN m.precision_60 > 0.75 THEN 'precision only'
            ELSE 'not selective'
        END AS verdict
    FROM seldb.unit_measures AS m
)
SELECT
    j.run_id,
    j.model,
    j.layer,
    j.verdict,
    count(*)::integer AS n_units,
    count(*)::double precision / sum(count(*)) OVER (PARTITION BY j.run_id, j.layer) AS share
FROM judged AS j
GROUP BY GROUPING SETS ((j.run_id, j.model, j.layer, j.verdict), (j.run_id, j.model, j.verdict));
