-- seldb.rating_studies: one row per rating study (`seldb study add`): a blinded
-- rating sheet of `seldb am sheet` that `seldb serve` asks raters at
-- /rate/<study>. The counts are over the ratings of the study's units in
-- seldb_store.am_ratings, whatever recorded them (the browser or
-- `seldb import ratings`).
CREATE OR REPLACE VIEW seldb.rating_studies AS
SELECT
    s.name AS study,
    s.run_id,
    r.model,
    s.sheet,
    s.seed,
    s.key_path,
    s.created_at,
    i.n_items,
    COALESCE(a.n_raters, 0) AS n_raters,
    COALESCE(a.n_ratings, 0) AS n_ratings
FROM seldb_store.rating_studies AS s
JOIN seldb_store.runs AS r ON r.run_id = s.run_id
LEFT JOIN LATERAL (
    SELECT count(*)::integer AS n_items FROM seldb_store.rating_study_items AS it WHERE it.study_id = s.study_id
) AS i ON true
LEFT JOIN LATERAL (
    SELECT count(DISTINCT ar.rater)::integer AS n_raters, count(*)::integer AS n_ratings
    FROM seldb_store.rating_study_items AS it
    JOIN seldb_store.am_ratings AS ar
      ON ar.run_id = it.run_id AND ar.layer_id = it.layer_id AND ar.unit = it.unit
    WHERE it.study_id = s.study_id
) AS a ON true;
