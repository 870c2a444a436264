-- The views as revision 0002 created them (the public views), frozen: later revisions
-- change sql/*.sql, and a downgrade to 0002 must restore these exact definitions.

-- seldb.runs: one row per run (views.md). The only view that also lists runs
-- still loading or failed, so that `status` tells what happened to them; every
-- other view shows complete runs only. row_counts, timings (validate, read,
-- measures, COPY, total seconds) and dropped_images (NaN/inf rows, unreadable
-- images) complete the provenance of an import.
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

-- seldb.layers: one row per (run, layer) of complete runs.
CREATE OR REPLACE VIEW seldb.layers AS
SELECT
    l.run_id,
    l.name AS layer,
    l.n_units,
    l.reduction
FROM seldb_store.run_layers AS l
JOIN seldb_store.runs AS r ON r.run_id = l.run_id AND r.status = 'complete';

-- seldb.unit_measures: one row per unit of a complete run.
-- Class columns show the class label (the name made unique within the run);
-- the LEFT JOINs hit run_classes' primary key, so PostgreSQL drops those a
-- query does not use. NULLIF(x, 'NaN') because the bulk loader may write NaN
-- for "no value", and a NaN would poison every aggregate over the view.
CREATE OR REPLACE VIEW seldb.unit_measures AS
SELECT
    m.run_id,
    r.model,
    r.dataset,
    l.name AS layer,
    m.unit,
    l.name || '.' || m.unit AS unit_label,
    m.n_images,
    NULLIF(m.ccmas, 'NaN') AS ccmas,
    c_ccmas.label AS ccmas_class,
    NULLIF(m.ccmas2, 'NaN') AS ccmas2,
    c_ccmas2.label AS ccmas2_class,
    NULLIF(m.ccmas_morcos, 'NaN') AS ccmas_morcos,
    NULLIF(m.precision_60, 'NaN') AS precision_60,
    c_p60.label AS precision_60_class,
    NULLIF(m.precision_100, 'NaN') AS precision_100,
    c_p100.label AS precision_100_class,
    m.n_classes_top100,
    NULLIF(m.localist_margin, 'NaN') AS localist_margin,
    m.is_localist,
    NULLIF(m.recall_p1, 'NaN') AS recall_p1,
    c_r1.label AS recall_p1_class,
    NULLIF(m.recall_p1_threshold, 'NaN') AS recall_p1_threshold,
    NULLIF(m.recall_p95, 'NaN') AS recall_p95,
    c_r95.label AS recall_p95_class,
    NULLIF(m.recall_p95_threshold, 'NaN') AS recall_p95_threshold,
    NULLIF(m.max_informedness, 'NaN') AS max_informedness,
    c_mi.label AS mi_class,
    NULLIF(m.mi_threshold, 'NaN') AS mi_threshold,
    NULLIF(m.mi_recall, 'NaN') AS mi_recall,
    NULLIF(m.mi_specificity, 'NaN') AS mi_specificity,
    NULLIF(m.mi_false_alarm_rate, 'NaN') AS mi_false_alarm_rate,
    NULLIF(m.mi_false_discovery_rate, 'NaN') AS mi_false_discovery_rate,
    NULLIF(m.mi_precision, 'NaN') AS mi_precision
FROM seldb_store.unit_measures AS m
JOIN seldb_store.runs AS r ON r.run_id = m.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = m.run_id AND l.layer_id = m.layer_id
LEFT JOIN seldb_store.run_classes AS c_ccmas ON c_ccmas.run_id = m.run_id AND c_ccmas.class_index = m.ccmas_class
LEFT JOIN seldb_store.run_classes AS c_ccmas2 ON c_ccmas2.run_id = m.run_id AND c_ccmas2.class_index = m.ccmas2_class
LEFT JOIN seldb_store.run_classes AS c_p60 ON c_p60.run_id = m.run_id AND c_p60.class_index = m.precision_60_class
LEFT JOIN seldb_store.run_classes AS c_p100 ON c_p100.run_id = m.run_id AND c_p100.class_index = m.precision_100_class
LEFT JOIN seldb_store.run_classes AS c_r1 ON c_r1.run_id = m.run_id AND c_r1.class_index = m.recall_p1_class
LEFT JOIN seldb_store.run_classes AS c_r95 ON c_r95.run_id = m.run_id AND c_r95.class_index = m.recall_p95_class
LEFT JOIN seldb_store.run_classes AS c_mi ON c_mi.run_id = m.run_id AND c_mi.class_index = m.mi_class;

-- seldb.unit_precision_k: top-k precision for the k values requested beyond
-- the 60 and 100 of unit_measures (whatever the loader stored).
CREATE OR REPLACE VIEW seldb.unit_precision_k AS
SELECT
    p.run_id,
    l.name AS layer,
    p.unit,
    l.name || '.' || p.unit AS unit_label,
    p.k,
    NULLIF(p.precision, 'NaN') AS precision,
    c.label AS class
FROM seldb_store.unit_precision_k AS p
JOIN seldb_store.runs AS r ON r.run_id = p.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = p.run_id AND l.layer_id = p.layer_id
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = p.run_id AND c.class_index = p.class_index;

-- seldb.unit_class_stats: one row per (unit, class), unnested from the per-unit
-- arrays of seldb_store.unit_arrays (element i+1 belongs to class_index i).
-- One unnest() call over all arrays reads (and decompresses) each array once
-- per unit. Filters on run_id, layer, unit and unit_label apply to
-- unit_arrays before the unnest. NaN in the arrays means NULL.
CREATE OR REPLACE VIEW seldb.unit_class_stats AS
SELECT
    a.run_id,
    r.model,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    c.class_index,
    c.key AS class_key,
    c.n_analysed AS n,
    NULLIF(s.mean, 'NaN') AS mean,
    NULLIF(s.std, 'NaN') AS std,
    NULLIF(s.std, 'NaN') / sqrt(NULLIF(c.n_analysed, 0)) AS sem,
    NULLIF(s.min, 'NaN') AS min,
    NULLIF(s.max, 'NaN') AS max,
    s.n_nonzero,
    s.n_nonzero::double precision / NULLIF(c.n_analysed, 0) AS frac_nonzero,
    NULLIF(s.ccmas, 'NaN') AS ccmas,
    NULLIF(s.mi, 'NaN') AS max_informedness,
    NULLIF(s.mi_threshold, 'NaN') AS mi_threshold
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.runs AS r ON r.run_id = a.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL unnest(a.mean, a.std, a.min, a.max, a.n_nonzero, a.ccmas, a.mi, a.mi_threshold)
    WITH ORDINALITY AS s(mean, std, min, max, n_nonzero, ccmas, mi, mi_threshold, ord)
JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = (s.ord - 1)::integer;

-- seldb.unit_histograms: one row per (unit, class) with that class's bin counts.
-- unit_arrays.hist_counts is class-major: class_index c owns elements
-- c*n_bins+1 .. (c+1)*n_bins. Every bin of a unit spans bin_width from bin_lo.
--
-- Why the two OFFSET 0 subqueries: hist_counts is a large TOASTed array
-- (classes x bins), and PostgreSQL detoasts it again for every slice taken
-- straight from the table row, which made one 1000-class unit cost 1000 full
-- decompressions. `h` detoasts it once per unit (array_cat with an empty array
-- returns the detoasted input), OFFSET 0 keeps the planner from merging `h`
-- and `x` into the outer query, so the slices are cut inside `x` and only
-- n_bins counts per row travel through the joins above.
CREATE OR REPLACE VIEW seldb.unit_histograms AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    c.class_index,
    a.hist_lo AS bin_lo,
    a.hist_width AS bin_width,
    a.n_bins,
    x.n_zero,
    x.counts
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.runs AS r ON r.run_id = a.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT
        (z.ord - 1)::integer AS class_index,
        z.n_zero,
        h.counts[(z.ord - 1)::integer * a.n_bins + 1 : z.ord::integer * a.n_bins] AS counts
    FROM (SELECT array_cat(a.hist_counts, '{}'::integer[]) AS counts, a.n_zero OFFSET 0) AS h
    CROSS JOIN LATERAL unnest(h.n_zero) WITH ORDINALITY AS z(n_zero, ord)
    OFFSET 0
) AS x
JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = x.class_index;

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
    NULLIF(t.activation, 'NaN') AS activation
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.runs AS r ON r.run_id = a.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL unnest(a.top_image, a.top_activation) WITH ORDINALITY AS t(image_index, activation, rank)
LEFT JOIN seldb_store.run_images AS i ON i.run_id = a.run_id AND i.image_index = t.image_index
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = i.run_id AND c.class_index = i.label
WHERE t.image_index >= 0;

-- seldb.layer_summary: one row per (run, layer, measure), the numbers behind
-- box plots of every numeric measure of unit_measures (NULLs ignored, sem with
-- ddof = 1, quartiles by percentile_cont). The LATERAL VALUES list unpivots
-- the measure columns; run_id, layer and measure filters apply before the
-- aggregation.
CREATE OR REPLACE VIEW seldb.layer_summary AS
SELECT
    m.run_id,
    m.model,
    m.layer,
    v.measure,
    count(v.value)::integer AS n_units,
    avg(v.value) AS mean,
    stddev_samp(v.value) / sqrt(NULLIF(count(v.value), 0)) AS sem,
    percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value) AS median,
    percentile_cont(0.25) WITHIN GROUP (ORDER BY v.value) AS q25,
    percentile_cont(0.75) WITHIN GROUP (ORDER BY v.value) AS q75,
    min(v.value) AS min,
    max(v.value) AS max
FROM seldb.unit_measures AS m
CROSS JOIN LATERAL (
    VALUES
        ('precision_60', m.precision_60),
        ('precision_100', m.precision_100),
        ('n_classes_top100', m.n_classes_top100::double precision),
        ('ccmas', m.ccmas),
        ('ccmas2', m.ccmas2),
        ('ccmas_morcos', m.ccmas_morcos),
        ('localist_margin', m.localist_margin),
        ('recall_p1', m.recall_p1),
        ('recall_p1_threshold', m.recall_p1_threshold),
        ('recall_p95', m.recall_p95),
        ('recall_p95_threshold', m.recall_p95_threshold),
        ('max_informedness', m.max_informedness),
        ('mi_threshold', m.mi_threshold),
        ('mi_recall', m.mi_recall),
        ('mi_specificity', m.mi_specificity),
        ('mi_false_alarm_rate', m.mi_false_alarm_rate),
        ('mi_false_discovery_rate', m.mi_false_discovery_rate),
        ('mi_precision', m.mi_precision)
) AS v(measure, value)
GROUP BY m.run_id, m.model, m.layer, v.measure;

-- seldb.measure_correlations: the pairwise correlations the importer computed
-- (scipy: PostgreSQL has no t distribution for the p-values); layer NULL means
-- all layers of the run together.
CREATE OR REPLACE VIEW seldb.measure_correlations AS
SELECT
    mc.run_id,
    r.model,
    l.name AS layer,
    mc.measure_a,
    mc.measure_b,
    mc.n_units,
    NULLIF(mc.pearson_r, 'NaN') AS pearson_r,
    NULLIF(mc.pearson_p, 'NaN') AS pearson_p,
    NULLIF(mc.spearman_rho, 'NaN') AS spearman_rho,
    NULLIF(mc.spearman_p, 'NaN') AS spearman_p
FROM seldb_store.measure_correlations AS mc
JOIN seldb_store.runs AS r ON r.run_id = mc.run_id AND r.status = 'complete'
LEFT JOIN seldb_store.run_layers AS l ON l.run_id = mc.run_id AND l.layer_id = mc.layer_id;

-- seldb.detector_claims: units that Zhou et al. (2015)'s criterion,
-- precision_60 > 0.75, calls object detectors, beside the measures that say
-- how good a detector each really is. classes_agree: the precision, CCMAS and
-- max-informedness classes are one class (false when any is missing).
CREATE OR REPLACE VIEW seldb.detector_claims AS
SELECT
    m.run_id,
    m.model,
    m.dataset,
    m.layer,
    m.unit,
    m.unit_label,
    m.precision_60,
    m.precision_60_class,
    m.ccmas,
    m.ccmas_class,
    m.recall_p1,
    m.max_informedness,
    m.mi_class,
    m.mi_recall,
    m.mi_false_alarm_rate,
    m.mi_false_discovery_rate,
    COALESCE(m.precision_60_class = m.ccmas_class AND m.ccmas_class = m.mi_class, false) AS classes_agree
FROM seldb.unit_measures AS m
WHERE m.precision_60 > 0.75;

-- seldb.high_precision_high_false_alarm: "detectors" by precision
-- (precision_60 > 0.75) that, at their best informedness threshold, are wrong
-- at least half the time they fire (mi_false_discovery_rate >= 0.5).
CREATE OR REPLACE VIEW seldb.high_precision_high_false_alarm AS
SELECT
    m.run_id,
    m.model,
    m.dataset,
    m.layer,
    m.unit,
    m.unit_label,
    m.precision_60,
    m.precision_60_class,
    m.max_informedness,
    m.mi_class,
    m.mi_threshold,
    m.mi_recall,
    m.mi_precision,
    m.mi_false_alarm_rate,
    m.mi_false_discovery_rate,
    m.recall_p1
FROM seldb.unit_measures AS m
WHERE m.precision_60 > 0.75 AND m.mi_false_discovery_rate >= 0.5;

-- seldb.concept_measures: one row per (unit, concept): each measure of a set
-- of classes A (the concept) against all other images, with the Network
-- Dissection IoU of the unit's tally row whose label is the concept's name
-- (case-insensitive; NULL when no tally was imported or none matches).
CREATE OR REPLACE VIEW seldb.concept_measures AS
SELECT
    cm.run_id,
    r.model,
    l.name AS layer,
    cm.unit,
    l.name || '.' || cm.unit AS unit_label,
    c.name AS concept,
    cm.n_a,
    cm.n_not_a,
    NULLIF(cm.mean_a, 'NaN') AS mean_a,
    NULLIF(cm.mean_not_a, 'NaN') AS mean_not_a,
    NULLIF(cm.sem_a, 'NaN') AS sem_a,
    NULLIF(cm.sem_not_a, 'NaN') AS sem_not_a,
    NULLIF(cm.frac_nonzero_a, 'NaN') AS frac_nonzero_a,
    NULLIF(cm.frac_nonzero_not_a, 'NaN') AS frac_nonzero_not_a,
    NULLIF(cm.precision_60, 'NaN') AS precision_60,
    NULLIF(cm.precision_100, 'NaN') AS precision_100,
    NULLIF(cm.ccmas, 'NaN') AS ccmas,
    NULLIF(cm.max_informedness, 'NaN') AS max_informedness,
    NULLIF(cm.mi_threshold, 'NaN') AS mi_threshold,
    NULLIF(cm.mi_recall, 'NaN') AS mi_recall,
    NULLIF(cm.mi_false_alarm_rate, 'NaN') AS mi_false_alarm_rate,
    NULLIF(cm.mi_false_discovery_rate, 'NaN') AS mi_false_discovery_rate,
    NULLIF(cm.recall_p1, 'NaN') AS recall_p1,
    NULLIF(cm.recall_p95, 'NaN') AS recall_p95,
    (
        -- a scalar subquery, not a join: two tally labels differing only in case cannot duplicate the row
        SELECT max(NULLIF(nd.iou, 'NaN'))
        FROM seldb_store.netdissect AS nd
        WHERE nd.run_id = cm.run_id AND nd.layer_id = cm.layer_id AND nd.unit = cm.unit
          AND lower(nd.label) = lower(c.name)
    ) AS iou
FROM seldb_store.concept_measures AS cm
JOIN seldb_store.runs AS r ON r.run_id = cm.run_id AND r.status = 'complete'
JOIN seldb_store.run_layers AS l ON l.run_id = cm.run_id AND l.layer_id = cm.layer_id
JOIN seldb_store.concepts AS c ON c.concept_id = cm.concept_id;
