-- seldb.layers: one row per (run, layer). layer_index is the layer's place in
-- the network (input side first; names do not sort that way: "features.10" <
-- "features.3"), n_dead_units how many of its units never rise above their
-- lowest value.
CREATE OR REPLACE VIEW seldb.layers AS
SELECT
    l.run_id,
    l.name AS layer,
    l.n_units,
    l.reduction,
    l.layer_id::integer AS layer_index,
    (SELECT count(*) FILTER (WHERE m.is_dead)::integer FROM seldb_store.unit_measures AS m
     WHERE m.run_id = l.run_id AND m.layer_id = l.layer_id) AS n_dead_units
FROM seldb_store.run_layers AS l;
