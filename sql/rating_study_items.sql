-- seldb.rating_study_items: one row per item of a rating study, in the
-- sheet's (seeded, random) order: the number raters see, the unit it stands
-- for, and the AM images shown (paths and sha256 as the sheet's key.json
-- recorded them). n_ratings counts the unit's ratings in seldb.am_ratings.
CREATE OR REPLACE VIEW seldb.rating_study_items AS
SELECT
    s.name AS study,
    it.item,
    it.position,
    it.run_id,
    l.name AS layer,
    it.unit,
    l.name || '.' || it.unit AS unit_label,
    cardinality(it.images) AS n_images,
    it.images,
    it.sha256,
    (SELECT count(*)::integer FROM seldb_store.am_ratings AS ar
     WHERE ar.run_id = it.run_id AND ar.layer_id = it.layer_id AND ar.unit = it.unit) AS n_ratings,
    it.run_id || ':' || l.name || '.' || it.unit AS unit_key
FROM seldb_store.rating_study_items AS it
JOIN seldb_store.rating_studies AS s ON s.study_id = it.study_id
JOIN seldb_store.run_layers AS l ON l.run_id = it.run_id AND l.layer_id = it.layer_id;
