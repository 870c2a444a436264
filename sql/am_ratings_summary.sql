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
