-- seldb.am_images: activation-maximisation (AM) images made by `seldb am`, one
-- row per image. `activation` is what the PNG does to its unit, read the way
-- the run recorded the layer for dataset images (a conv channel's spatial max
-- or mean, per seldb.layers.reduction; an fc unit itself), so it compares
-- like with like with dataset_max, the unit's highest activation over the
-- run's analysed images (rank 1 of seldb.unit_top_images).
CREATE OR REPLACE VIEW seldb.am_images AS
SELECT
    ai.run_id,
    r.model,
    l.name AS layer,
    ai.unit,
    l.name || '.' || ai.unit AS unit_label,
    ai.method,
    ai.seed,
    ai.steps,
    ai.size,
    ai.pre_relu,
    ai.lr,
    ai.objective_kind,
    ai.samples,
    ai.diversity,
    ai.generator,
    l.reduction,
    CASE l.reduction WHEN 'max' THEN ai.activation_max ELSE ai.activation_mean END AS activation,
    CASE l.reduction WHEN 'max' THEN ai.reference_max ELSE ai.reference_mean END AS reference_activation,
    d.dataset_max,
    (CASE l.reduction WHEN 'max' THEN ai.activation_max ELSE ai.activation_mean END) > d.dataset_max
        AS exceeds_dataset_max,
    ai.activation_mean,
    ai.activation_max,
    ai.objective,
    ai.reference_n_images,
    ai.path,
    ai.sha256,
    ai.device,
    ai.seconds,
    ai.settings,
    ai.created_at,
    ai.run_id || ':' || l.name || '.' || ai.unit AS unit_key
FROM seldb_store.am_images AS ai
JOIN seldb_store.runs AS r ON r.run_id = ai.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = ai.run_id AND l.layer_id = ai.layer_id
LEFT JOIN seldb_store.unit_arrays AS a ON a.run_id = ai.run_id AND a.layer_id = ai.layer_id AND a.unit = ai.unit
CROSS JOIN LATERAL (
    SELECT CASE WHEN a.top_image[1] >= 0 THEN NULLIF(a.top_activation[1], 'NaN') END AS dataset_max
) AS d;
