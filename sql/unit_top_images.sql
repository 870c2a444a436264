-- seldb.unit_top_images: the most active images of each unit, rank 1 first,
-- unnested from unit_arrays.top_image / top_activation; image index -1 pads
-- units with fewer images than the array holds and is skipped.
CREATE OR REPLACE VIEW seldb.unit_top_images AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    t.rank::integer AS rank,
    t.image_index,
    i.path AS image_path,
    c.label AS class,
    NULLIF(t.activation, 'NaN') AS activation,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL unnest(a.top_image, a.top_activation) WITH ORDINALITY AS t(image_index, activation, rank)
LEFT JOIN seldb_store.run_images AS i ON i.run_id = a.run_id AND i.image_index = t.image_index
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = i.run_id AND c.class_index = i.label
WHERE t.image_index >= 0;
