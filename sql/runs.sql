-- seldb.runs: one row per run (views.md). A run is loaded in one transaction,
-- so every run here is complete (`status` is always 'complete'). After the
-- columns of views.md and the import's record as JSON (row_counts, timings,
-- dropped_images), the same record as plain columns a BI tool can chart:
-- where the run came from, the options that tell runs apart, and the import's
-- timings in seconds.
CREATE OR REPLACE VIEW seldb.runs AS
SELECT
    r.run_id,
    r.model,
    r.dataset,
    r.created_at,
    r.source_file,
    r.source_sha256,
    r.n_images_total,
    r.n_images_analysed,
    r.only_correct,
    r.n_dropped,
    r.bins,
    r.top_k,
    r.seldb_version,
    r.options,
    r.status,
    r.row_counts,
    r.timings,
    r.dropped_images,
    COALESCE(r.options ->> 'source', 'seldb import-h5') AS source,
    array_to_string(r.top_k, ',') AS top_k_list,
    l.layers,
    l.n_layers,
    l.n_units,
    (r.options ->> 'all_images')::boolean AS all_images,
    r.options ->> 'nan_policy' AS nan_policy,
    COALESCE(jsonb_array_length(r.dropped_images -> 'nonfinite_rows'), 0) AS n_dropped_nonfinite,
    COALESCE((r.options ->> 'n_skipped')::integer, 0) AS n_skipped_images,
    (r.row_counts ->> 'dead_units')::integer AS n_dead_units,
    (r.timings ->> 'validate_s')::double precision AS validate_s,
    (r.timings ->> 'read_s')::double precision AS read_s,
    (r.timings ->> 'measures_s')::double precision AS measures_s,
    (r.timings ->> 'copy_s')::double precision AS copy_s,
    (r.timings ->> 'total_s')::double precision AS total_s
FROM seldb_store.runs AS r
LEFT JOIN LATERAL (
    SELECT string_agg(rl.name, ',' ORDER BY rl.layer_id) AS layers, count(*)::integer AS n_layers,
           sum(rl.n_units)::integer AS n_units
    FROM seldb_store.run_layers AS rl
    WHERE rl.run_id = r.run_id
) AS l ON true;
