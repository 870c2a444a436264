-- seldb.control_runs: one row per run made by `seldb control superposition`, i.e. one trained
-- recurrent network of the positive control seen through one class space (the word, or the
-- letter in one slot). What tells the runs apart (seed, condition, cell, class space) and how
-- the network was trained come from the run's provenance (seldb.runs.options) as plain columns.
CREATE OR REPLACE VIEW seldb.control_runs AS
SELECT
    r.run_id,
    r.model,
    r.dataset,
    r.options ->> 'control' AS control,
    r.options ->> 'condition' AS condition,
    (r.options ->> 'seed')::integer AS seed,
    r.options ->> 'cell' AS cell,
    (r.options ->> 'hidden')::integer AS hidden,
    r.options ->> 'class_space' AS class_space,
    (r.options ->> 'criterion')::double precision AS criterion,
    (r.options ->> 'criterion_reached')::boolean AS criterion_reached,
    (r.options ->> 'accuracy')::double precision AS accuracy,
    (r.options ->> 'epochs')::integer AS epochs,
    (r.options -> 'loss_curve' ->> -1)::double precision AS final_loss,
    (r.options ->> 'train_seconds')::double precision AS train_s,
    (r.options ->> 'recorded_steps')::integer AS recorded_steps,
    r.n_images_analysed,
    r.created_at
FROM seldb_store.runs AS r
WHERE r.options ->> 'source' = 'seldb control';
