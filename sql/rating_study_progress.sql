-- seldb.rating_study_progress: one row per (rating study, rater) with at
-- least one rating of a unit of the study: how far the rater got. A rater
-- who stops and comes back with the same name resumes at the first item of
-- the sheet's order without a rating (docs/serve.md).
CREATE OR REPLACE VIEW seldb.rating_study_progress AS
SELECT
    s.name AS study,
    s.run_id,
    ar.rater,
    n.n_items,
    count(*)::integer AS n_answered,
    count(*) FILTER (WHERE ar.judged_object)::integer AS n_yes,
    count(*) = n.n_items AS complete
FROM seldb_store.rating_studies AS s
JOIN seldb_store.rating_study_items AS it ON it.study_id = s.study_id
JOIN seldb_store.am_ratings AS ar ON ar.run_id = it.run_id AND ar.layer_id = it.layer_id AND ar.unit = it.unit
CROSS JOIN LATERAL (
    SELECT count(*)::integer AS n_items FROM seldb_store.rating_study_items AS x WHERE x.study_id = s.study_id
) AS n
GROUP BY s.name, s.run_id, ar.rater, n.n_items;
