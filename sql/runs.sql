-- seldb.runs: one row per run (views.md). A run is loaded in one transaction,
-- so every run here is complete (`status` is always 'complete'). row_counts,
-- timings (validate, read, measures, COPY, total seconds) and dropped_images
-- (NaN/inf rows, unreadable images) complete the provenance of an import.
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
    -- beyond views.md (views only ever gain columns): the import's record
    r.row_counts,
    r.timings,
    r.dropped_images
FROM seldb_store.runs AS r;
