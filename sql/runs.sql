-- seldb.runs: one row per run (views.md). The only view that also lists runs
-- still loading or failed, so that `status` tells what happened to them; every
-- other view shows complete runs only.
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
    r.status
FROM seldb_store.runs AS r;
