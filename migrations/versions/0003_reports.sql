-- The views as revision 0003 created them (report views), frozen: later revisions
-- change sql/*.sql, and a downgrade to 0003 must restore these exact definitions.

-- seldb.netdissect: the imported Network Dissection tallies (`seldb import
-- netdissect`), one row per (unit, label): the unit's top label (is_top, with
-- NetDissect's score) and the best label of every other category, each with
-- its IoU, beside the unit's precision, CCMAS and informedness, so that "do
-- the units Network Dissection calls object detectors pass the other
-- measures?" is one query. Units without a tally row are absent.
CREATE OR REPLACE VIEW seldb.netdissect AS
SELECT
    nd.run_id,
    r.model,
    l.name AS layer,
    nd.unit,
    l.name || '.' || nd.unit AS unit_label,
    nd.category,
    nd.label,
    nd.score IS NOT NULL AS is_top,
    NULLIF(nd.score, 'NaN') AS score,
    NULLIF(nd.iou, 'NaN') AS iou,
    m.precision_60,
    m.precision_60_class,
    m.ccmas,
    m.ccmas_class,
    m.recall_p1,
    m.max_informedness,
    m.mi_class,
    m.mi_recall,
    m.mi_false_alarm_rate,
    m.mi_false_discovery_rate
FROM seldb_store.netdissect AS nd
JOIN seldb_store.runs AS r ON r.run_id = nd.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = nd.run_id AND l.layer_id = nd.layer_id
LEFT JOIN seldb.unit_measures AS m ON m.run_id = nd.run_id AND m.layer = l.name AND m.unit = nd.unit;

-- seldb.detector_summary: one row per (run, layer), and one per run with
-- layer NULL for all layers together: how many units the precision criterion
-- (precision_60 > 0.75, seldb.detector_claims) calls object detectors, and
-- how good those "detectors" are by the measures that count misses and false
-- alarms. The numbers behind the verdict of `seldb report detectors`.
-- n_fdr_at_least_half: claimed units wrong at least half the time they fire
-- at their best informedness threshold (mi_false_discovery_rate >= 0.5).
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
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_false_discovery_rate) AS median_mi_false_discovery_rate
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
    c.median_mi_false_discovery_rate
FROM units AS u
LEFT JOIN claims AS c ON c.run_id = u.run_id AND c.layer IS NOT DISTINCT FROM u.layer;

-- seldb.am_ratings: human ratings of activation-maximisation (AM) images
-- (`seldb import ratings`), one row per (unit, rater): did the rater see an
-- object, and which. label_key is the label as compared: lower case, spaces
-- collapsed, mapped through the synonym file given at import (a synonym group
-- holding one of the run's class names maps to that name). top_class is the
-- class of the unit's most active image, ccmas_class the class with the
-- highest mean activation; the matches are NULL when the rater gave no label.
CREATE OR REPLACE VIEW seldb.am_ratings AS
SELECT
    ar.run_id,
    r.model,
    l.name AS layer,
    ar.unit,
    l.name || '.' || ar.unit AS unit_label,
    ar.rater,
    ar.judged_object,
    ar.label,
    ar.label_key,
    c_top.label AS top_class,
    c_ccmas.label AS ccmas_class,
    ar.label_key = lower(c_top.name) AS matches_top_class,
    ar.label_key = lower(c_ccmas.name) AS matches_ccmas_class
FROM seldb_store.am_ratings AS ar
JOIN seldb_store.runs AS r ON r.run_id = ar.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = ar.run_id AND l.layer_id = ar.layer_id
LEFT JOIN seldb_store.unit_arrays AS a ON a.run_id = ar.run_id AND a.layer_id = ar.layer_id AND a.unit = ar.unit
LEFT JOIN seldb_store.run_images AS i ON i.run_id = a.run_id AND i.image_index = a.top_image[1]
LEFT JOIN seldb_store.run_classes AS c_top ON c_top.run_id = i.run_id AND c_top.class_index = i.label
LEFT JOIN seldb_store.unit_measures AS m ON m.run_id = ar.run_id AND m.layer_id = ar.layer_id AND m.unit = ar.unit
LEFT JOIN seldb_store.run_classes AS c_ccmas ON c_ccmas.run_id = m.run_id AND c_ccmas.class_index = m.ccmas_class;

-- seldb.am_ratings_summary: the paper's Table 1 per (run, layer), from
-- seldb.am_ratings.
--   pct_yes: % of ratings that judged the AM image an object;
--   pct_units_80_yes: % of rated units judged an object by >= 80% of raters;
--   pct_raters_agree: % of pairs of raters of one unit, both saying yes with a
--     label, whose labels agree (label_key: case-insensitive, synonyms mapped);
--   pct_match_top_class / pct_match_ccmas_class: % of yes-ratings with a label
--     whose label is the unit's most-active class / its CCMAS class;
--   fleiss_kappa: Fleiss' kappa of the yes/no judgements over the units with
--     at least two raters (Fleiss 1971, with the per-unit agreement averaged
--     when units have different numbers of raters); NULL when every rating
--     is the same answer.
CREATE OR REPLACE VIEW seldb.am_ratings_summary AS
WITH ratings AS (
    SELECT run_id, model, layer, unit, rater, judged_object, label_key, matches_top_class, matches_ccmas_class
    FROM seldb.am_ratings
),
units AS (
    SELECT run_id, model, layer, unit, count(*) AS n, count(*) FILTER (WHERE judged_object) AS n_yes
    FROM ratings
    GROUP BY run_id, model, layer, unit
),
per_layer AS (
    SELECT
        run_id, model, layer,
        count(*)::integer AS n_units,
        sum(n)::integer AS n_ratings,
        sum(n_yes)::integer AS n_yes,
        count(*) FILTER (WHERE 5 * n_yes >= 4 * n)::integer AS n_units_80_yes,
        avg((n_yes * n_yes + (n - n_yes) * (n - n_yes) - n)::double precision / (n * (n - 1)))
            FILTER (WHERE n >= 2) AS p_bar,
        sum(n_yes) FILTER (WHERE n >= 2)::double precision / NULLIF(sum(n) FILTER (WHERE n >= 2), 0) AS p_yes
    FROM units
    GROUP BY run_id, model, layer
),
labels AS (
    SELECT
        run_id, layer,
        count(DISTINCT rater)::integer AS n_raters,
        count(*) FILTER (WHERE judged_object AND label_key IS NOT NULL)::integer AS n_labels,
        count(*) FILTER (WHERE judged_object AND matches_top_class)::integer AS n_match_top,
        count(*) FILTER (WHERE judged_object AND matches_ccmas_class)::integer AS n_match_ccmas
    FROM ratings
    GROUP BY run_id, layer
),
pairs AS (
    SELECT
        a.run_id, a.layer,
        count(*)::integer AS n_pairs,
        count(*) FILTER (WHERE a.label_key = b.label_key)::integer AS n_agree
    FROM ratings AS a
    JOIN ratings AS b ON b.run_id = a.run_id AND b.layer = a.layer AND b.unit = a.unit AND a.rater < b.rater
    WHERE a.judged_object AND b.judged_object AND a.label_key IS NOT NULL AND b.label_key IS NOT NULL
    GROUP BY a.run_id, a.layer
),
kappa AS (
    SELECT *, p_yes * p_yes + (1 - p_yes) * (1 - p_yes) AS p_e FROM per_layer
)
SELECT
    k.run_id,
    k.model,
    k.layer,
    k.n_units,
    lb.n_raters,
    k.n_ratings,
    100.0::double precision * k.n_yes / k.n_ratings AS pct_yes,
    100.0::double precision * k.n_units_80_yes / k.n_units AS pct_units_80_yes,
    COALESCE(p.n_pairs, 0) AS n_label_pairs,
    100.0::double precision * p.n_agree / NULLIF(p.n_pairs, 0) AS pct_raters_agree,
    lb.n_labels,
    100.0::double precision * lb.n_match_top / NULLIF(lb.n_labels, 0) AS pct_match_top_class,
    100.0::double precision * lb.n_match_ccmas / NULLIF(lb.n_labels, 0) AS pct_match_ccmas_class,
    (k.p_bar - k.p_e) / NULLIF(1 - k.p_e, 0) AS fleiss_kappa
FROM kappa AS k
JOIN labels AS lb ON lb.run_id = k.run_id AND lb.layer = k.layer
LEFT JOIN pairs AS p ON p.run_id = k.run_id AND p.layer = k.layer;
