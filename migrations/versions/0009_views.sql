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

-- seldb.unit_measures: one row per unit of a run.
-- The measure columns come from seldb.catalogue (the double-brace markers,
-- expanded by seldb.db.views.view_sql). Class columns show the class label (the name made
-- unique within the run); their LEFT JOINs hit run_classes' primary key, so
-- PostgreSQL drops those a query does not use. NULLIF(x, 'NaN') because the
-- bulk loader may write NaN for "no value", and a NaN would poison every
-- aggregate over the view. unit_key ('3:fc6.1199') names a unit across runs.
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
    c_ccmas_class.label AS ccmas_class,
    NULLIF(m.ccmas2, 'NaN') AS ccmas2,
    c_ccmas2_class.label AS ccmas2_class,
    NULLIF(m.ccmas_morcos, 'NaN') AS ccmas_morcos,
    NULLIF(m.precision_60, 'NaN') AS precision_60,
    c_precision_60_class.label AS precision_60_class,
    NULLIF(m.precision_100, 'NaN') AS precision_100,
    c_precision_100_class.label AS precision_100_class,
    m.n_classes_top100,
    NULLIF(m.localist_margin, 'NaN') AS localist_margin,
    m.is_localist,
    NULLIF(m.recall_p1, 'NaN') AS recall_p1,
    c_recall_p1_class.label AS recall_p1_class,
    NULLIF(m.recall_p1_threshold, 'NaN') AS recall_p1_threshold,
    NULLIF(m.recall_p95, 'NaN') AS recall_p95,
    c_recall_p95_class.label AS recall_p95_class,
    NULLIF(m.recall_p95_threshold, 'NaN') AS recall_p95_threshold,
    NULLIF(m.max_informedness, 'NaN') AS max_informedness,
    c_mi_class.label AS mi_class,
    NULLIF(m.mi_threshold, 'NaN') AS mi_threshold,
    NULLIF(m.mi_recall, 'NaN') AS mi_recall,
    NULLIF(m.mi_specificity, 'NaN') AS mi_specificity,
    NULLIF(m.mi_false_alarm_rate, 'NaN') AS mi_false_alarm_rate,
    NULLIF(m.mi_false_discovery_rate, 'NaN') AS mi_false_discovery_rate,
    NULLIF(m.mi_precision, 'NaN') AS mi_precision,
    m.n_distinct_values,
    m.is_dead,
    m.run_id || ':' || l.name || '.' || m.unit AS unit_key
FROM seldb_store.unit_measures AS m
JOIN seldb_store.runs AS r ON r.run_id = m.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = m.run_id AND l.layer_id = m.layer_id
LEFT JOIN seldb_store.run_classes AS c_ccmas_class ON c_ccmas_class.run_id = m.run_id AND c_ccmas_class.class_index = m.ccmas_class
LEFT JOIN seldb_store.run_classes AS c_ccmas2_class ON c_ccmas2_class.run_id = m.run_id AND c_ccmas2_class.class_index = m.ccmas2_class
LEFT JOIN seldb_store.run_classes AS c_precision_60_class ON c_precision_60_class.run_id = m.run_id AND c_precision_60_class.class_index = m.precision_60_class
LEFT JOIN seldb_store.run_classes AS c_precision_100_class ON c_precision_100_class.run_id = m.run_id AND c_precision_100_class.class_index = m.precision_100_class
LEFT JOIN seldb_store.run_classes AS c_recall_p1_class ON c_recall_p1_class.run_id = m.run_id AND c_recall_p1_class.class_index = m.recall_p1_class
LEFT JOIN seldb_store.run_classes AS c_recall_p95_class ON c_recall_p95_class.run_id = m.run_id AND c_recall_p95_class.class_index = m.recall_p95_class
LEFT JOIN seldb_store.run_classes AS c_mi_class ON c_mi_class.run_id = m.run_id AND c_mi_class.class_index = m.mi_class;

-- seldb.latest_unit_measures: seldb.unit_measures of the latest run only (the
-- highest run_id), for dashboards that should follow the newest import.
CREATE OR REPLACE VIEW seldb.latest_unit_measures AS
SELECT m.*
FROM seldb.unit_measures AS m
WHERE m.run_id = (SELECT max(run_id) FROM seldb_store.runs);

-- seldb.unit_precision_k: top-k precision for every k of the run (60 and 100,
-- which unit_measures shows too, and any other k asked for at import), one
-- row per (unit, k).
CREATE OR REPLACE VIEW seldb.unit_precision_k AS
SELECT
    p.run_id,
    l.name AS layer,
    p.unit,
    l.name || '.' || p.unit AS unit_label,
    p.k,
    NULLIF(p.precision, 'NaN') AS precision,
    c.label AS class,
    p.run_id || ':' || l.name || '.' || p.unit AS unit_key
FROM seldb_store.unit_precision_k AS p
JOIN seldb_store.run_layers AS l ON l.run_id = p.run_id AND l.layer_id = p.layer_id
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = p.run_id AND c.class_index = p.class_index;

-- seldb.unit_class_stats: one row per (unit, class), read from the per-unit
-- arrays of seldb_store.unit_arrays (element i belongs to class_index i - 1).
--
-- Why this shape: the arrays are large and TOASTed. `d` copies each array out
-- of its TOAST storage once per unit (array_cat with an empty array returns
-- the detoasted input; OFFSET 0 keeps the planner from merging `d` into the
-- outer query, where every subscript would detoast the whole array again),
-- and generate_series makes the rows. A query that reads no per-class number
-- (count(*), GROUP BY layer) touches no array at all: PostgreSQL drops the
-- unused outputs of `d`, and the LEFT JOIN to run_classes on its primary key
-- when no class column is used. Filters on run_id, layer, unit and
-- unit_label apply before any row is made. NaN in the arrays means NULL.
CREATE OR REPLACE VIEW seldb.unit_class_stats AS
SELECT
    a.run_id,
    r.model,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    s.i - 1 AS class_index,
    c.key AS class_key,
    c.n_analysed AS n,
    NULLIF(d.mean[s.i], 'NaN') AS mean,
    NULLIF(d.std[s.i], 'NaN') AS std,
    NULLIF(d.std[s.i], 'NaN') / sqrt(NULLIF(c.n_analysed, 0)) AS sem,
    NULLIF(d.min[s.i], 'NaN') AS min,
    NULLIF(d.max[s.i], 'NaN') AS max,
    d.n_nonzero[s.i] AS n_nonzero,
    d.n_nonzero[s.i]::double precision / NULLIF(c.n_analysed, 0) AS frac_nonzero,
    NULLIF(d.ccmas[s.i], 'NaN') AS ccmas,
    NULLIF(d.mi[s.i], 'NaN') AS max_informedness,
    NULLIF(d.mi_threshold[s.i], 'NaN') AS mi_threshold,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.runs AS r ON r.run_id = a.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT
        array_cat(a.mean, '{}'::double precision[]) AS mean,
        array_cat(a.std, '{}'::double precision[]) AS std,
        array_cat(a.min, '{}'::double precision[]) AS min,
        array_cat(a.max, '{}'::double precision[]) AS max,
        array_cat(a.n_nonzero, '{}'::integer[]) AS n_nonzero,
        array_cat(a.ccmas, '{}'::double precision[]) AS ccmas,
        array_cat(a.mi, '{}'::double precision[]) AS mi,
        array_cat(a.mi_threshold, '{}'::double precision[]) AS mi_threshold
    OFFSET 0
) AS d
CROSS JOIN LATERAL generate_series(1, cardinality(a.n_zero)) AS s(i)
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = s.i - 1;

-- seldb.unit_histograms: one row per (unit, class) with that class's bin counts.
-- unit_arrays.hist_counts is class-major: class_index c owns elements
-- c*n_bins+1 .. (c+1)*n_bins. Every bin of a unit spans bin_width from bin_lo.
--
-- Why this shape (as seldb.unit_class_stats): hist_counts is a large TOASTed
-- array (classes x bins). `d` copies it (and n_zero) out of TOAST storage once
-- per unit (array_cat with an empty array returns the detoasted input; OFFSET
-- 0 keeps the planner from merging `d` into the outer query, where every slice
-- would detoast the whole array again), and generate_series makes one row per
-- class. A query that reads no count (count(*), GROUP BY layer) touches no
-- array but n_zero: PostgreSQL drops the unused outputs of `d`, and the LEFT
-- JOIN to run_classes on its primary key when no class column is used.
CREATE OR REPLACE VIEW seldb.unit_histograms AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    c.label AS class,
    s.i - 1 AS class_index,
    a.hist_lo AS bin_lo,
    a.hist_width AS bin_width,
    a.n_bins,
    d.n_zero[s.i] AS n_zero,
    d.counts[(s.i - 1) * a.n_bins + 1 : s.i * a.n_bins] AS counts,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT array_cat(a.hist_counts, '{}'::integer[]) AS counts, array_cat(a.n_zero, '{}'::integer[]) AS n_zero
    OFFSET 0
) AS d
CROSS JOIN LATERAL generate_series(1, cardinality(a.n_zero)) AS s(i)
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = s.i - 1;

-- seldb.unit_histogram_bins: the quantised activations in long form, one row
-- per (unit, class, bin) with the bin's edges and count, for BI tools that
-- chart or sum counts (seldb.unit_histograms holds them as one array per
-- (unit, class)). Large: units x classes x bins rows per run (270 million at
-- AlexNet scale with 32 bins), so filter on run_id and a unit or layer; for
-- whole-run numbers per class use seldb.layer_class_summary. A constant unit
-- has one bin of width 0. As in unit_histograms, each unit's counts array is
-- read out of its TOAST storage once (array_cat ... OFFSET 0).
CREATE OR REPLACE VIEW seldb.unit_histogram_bins AS
SELECT
    a.run_id,
    l.name AS layer,
    a.unit,
    l.name || '.' || a.unit AS unit_label,
    a.run_id || ':' || l.name || '.' || a.unit AS unit_key,
    c.label AS class,
    x.class_index,
    x.bin,
    a.hist_lo + x.bin * a.hist_width AS bin_lo,
    a.hist_lo + (x.bin + 1) * a.hist_width AS bin_hi,
    x.count
FROM seldb_store.unit_arrays AS a
JOIN seldb_store.run_layers AS l ON l.run_id = a.run_id AND l.layer_id = a.layer_id
CROSS JOIN LATERAL (
    SELECT s.i / a.n_bins AS class_index, s.i % a.n_bins AS bin, h.counts[s.i + 1] AS count
    FROM (SELECT array_cat(a.hist_counts, '{}'::integer[]) AS counts OFFSET 0) AS h
    CROSS JOIN LATERAL generate_series(0, cardinality(a.hist_counts) - 1) AS s(i)
) AS x
LEFT JOIN seldb_store.run_classes AS c ON c.run_id = a.run_id AND c.class_index = x.class_index;

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

-- seldb.uncertainty_layers: one row per (run, layer) that has bootstrap
-- intervals and/or a chance baseline (seldb uncertainty), with the settings
-- they were computed with.
CREATE OR REPLACE VIEW seldb.uncertainty_layers AS
SELECT
    s.run_id,
    l.name AS layer,
    s.bootstrap,
    s.permutations,
    s.seed,
    s.level,
    s.engine,
    s.seldb_version,
    s.computed_at,
    s.seconds
FROM seldb_store.uncertainty_layers AS s
JOIN seldb_store.run_layers AS l ON l.run_id = s.run_id AND l.layer_id = s.layer_id;

-- seldb.unit_measure_intervals: one row per (unit, measure) of the layers with
-- bootstrap replicates: the point estimate, its interval at `level`, how many
-- replicates it rests on and how often they picked the point estimate's class.
-- E.g. units called detectors whose precision may well be a fluke:
--   SELECT * FROM seldb.unit_measure_intervals
--   WHERE measure = 'precision_60' AND estimate > 0.75 AND lo < 0.5;
CREATE OR REPLACE VIEW seldb.unit_measure_intervals AS
SELECT
    u.run_id,
    l.name AS layer,
    u.unit,
    l.name || '.' || u.unit AS unit_label,
    u.measure,
    u.estimate,
    u.lo,
    u.hi,
    s.level,
    u.replicates,
    u.class_stability,
    u.class_lo,
    u.class_hi,
    u.method,
    u.bias,
    s.seed,
    u.run_id || ':' || l.name || '.' || u.unit AS unit_key
FROM seldb_store.unit_measure_uncertainty AS u
JOIN seldb_store.uncertainty_layers AS s ON s.run_id = u.run_id AND s.layer_id = u.layer_id
JOIN seldb_store.run_layers AS l ON l.run_id = u.run_id AND l.layer_id = u.layer_id
WHERE s.bootstrap > 0;

-- seldb.unit_measure_chance: one row per (unit, measure) of the layers with
-- permutation replicates: what the measure reads when the labels are shuffled
-- (null mean and percentiles), the permutation p-value of the point estimate
-- and its Benjamini-Hochberg q-value over the layer's units.
CREATE OR REPLACE VIEW seldb.unit_measure_chance AS
SELECT
    u.run_id,
    l.name AS layer,
    u.unit,
    l.name || '.' || u.unit AS unit_label,
    u.measure,
    u.estimate,
    u.direction,
    u.p,
    u.q,
    u.q < 0.05 AS beats_chance,
    u.permutations,
    u.null_mean,
    u.null_p01,
    u.null_p05,
    u.null_p95,
    u.null_p99,
    s.seed,
    u.run_id || ':' || l.name || '.' || u.unit AS unit_key
FROM seldb_store.unit_measure_uncertainty AS u
JOIN seldb_store.uncertainty_layers AS s ON s.run_id = u.run_id AND s.layer_id = u.layer_id
JOIN seldb_store.run_layers AS l ON l.run_id = u.run_id AND l.layer_id = u.layer_id
WHERE s.permutations > 0;

-- seldb.layer_measure_null: one row per (run, layer, measure) with permutation
-- replicates: the chance level of the measure in that layer (its values under
-- shuffled labels, pooled over every unit and permutation), and how many of
-- the layer's units beat it (BH q < 0.05).
CREATE OR REPLACE VIEW seldb.layer_measure_null AS
SELECT
    n.run_id,
    l.name AS layer,
    n.measure,
    n.direction,
    s.permutations,
    n.null_values,
    n.null_mean,
    n.null_p01,
    n.null_p05,
    n.null_p95,
    n.null_p99,
    c.n_units,
    c.n_beats_chance,
    100.0::double precision * c.n_beats_chance / NULLIF(c.n_units, 0) AS pct_beats_chance
FROM seldb_store.layer_measure_null AS n
JOIN seldb_store.uncertainty_layers AS s ON s.run_id = n.run_id AND s.layer_id = n.layer_id
JOIN seldb_store.run_layers AS l ON l.run_id = n.run_id AND l.layer_id = n.layer_id
LEFT JOIN LATERAL (
    SELECT count(u.p)::integer AS n_units, count(*) FILTER (WHERE u.q < 0.05)::integer AS n_beats_chance
    FROM seldb_store.unit_measure_uncertainty AS u
    WHERE u.run_id = n.run_id AND u.layer_id = n.layer_id AND u.measure = n.measure
) AS c ON true;

-- seldb.layer_summary_variants: the numbers behind box plots of every
-- summarised measure of seldb.catalogue (the paper's Figure 2), per (run,
-- layer, measure), twice: over the live units only (includes_dead false) and
-- over every unit (includes_dead true). NULLs are ignored, sem has ddof = 1,
-- quartiles are percentile_cont. n_dead counts the layer's dead units (left
-- out of the live rows), once per output row after the aggregation.
-- seldb.layer_summary and seldb.layer_summary_with_dead show one variant
-- each. The LATERAL VALUES list unpivots the measure columns (expanded from
-- the catalogue); filters on run_id, layer and measure apply before the
-- aggregation.
CREATE OR REPLACE VIEW seldb.layer_summary_variants AS
SELECT
    g.run_id,
    g.model,
    g.layer,
    g.measure,
    g.includes_dead,
    g.n_units,
    g.mean,
    g.sem,
    g.median,
    g.q25,
    g.q75,
    g.min,
    g.max,
    (SELECT count(*)::integer FROM seldb_store.unit_measures AS d
     JOIN seldb_store.run_layers AS dl ON dl.run_id = d.run_id AND dl.layer_id = d.layer_id
     WHERE d.run_id = g.run_id AND dl.name = g.layer AND d.is_dead) AS n_dead
FROM (
    SELECT
        m.run_id,
        m.model,
        m.layer,
        v.measure,
        d.includes_dead,
        count(v.value)::integer AS n_units,
        avg(v.value) AS mean,
        stddev_samp(v.value) / sqrt(NULLIF(count(v.value), 0)) AS sem,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY v.value) AS median,
        percentile_cont(0.25) WITHIN GROUP (ORDER BY v.value) AS q25,
        percentile_cont(0.75) WITHIN GROUP (ORDER BY v.value) AS q75,
        min(v.value) AS min,
        max(v.value) AS max
    FROM seldb.unit_measures AS m
    CROSS JOIN (VALUES (false), (true)) AS d(includes_dead)
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
    WHERE d.includes_dead OR NOT COALESCE(m.is_dead, false)
    GROUP BY m.run_id, m.model, m.layer, v.measure, d.includes_dead
) AS g;

-- seldb.layer_summary: one row per (run, layer, measure) over the layer's live
-- units (views.md's columns, then n_dead: the dead units left out). Dead units
-- never rise above their lowest value and would pile up identical values;
-- seldb.layer_summary_with_dead keeps them.
CREATE OR REPLACE VIEW seldb.layer_summary AS
SELECT run_id, model, layer, measure, n_units, mean, sem, median, q25, q75, min, max, n_dead
FROM seldb.layer_summary_variants
WHERE NOT includes_dead;

-- seldb.layer_summary_with_dead: seldb.layer_summary over every unit, dead
-- ones included (n_dead says how many of n_units are dead).
CREATE OR REPLACE VIEW seldb.layer_summary_with_dead AS
SELECT run_id, model, layer, measure, n_units, mean, sem, median, q25, q75, min, max, n_dead
FROM seldb.layer_summary_variants
WHERE includes_dead;

-- seldb.layer_class_summary: one row per (run, layer, class), over the
-- layer's live units, computed at import (seldb/summaries.py): how strongly
-- the layer's units respond to the class on average, and how many units each
-- measure assigns to it. Whole-run questions per class answer from here at
-- once, where seldb.unit_class_stats would read every unit's arrays.
CREATE OR REPLACE VIEW seldb.layer_class_summary AS
SELECT
    s.run_id,
    r.model,
    l.name AS layer,
    c.label AS class,
    s.class_index,
    c.key AS class_key,
    c.n_analysed AS n,
    s.n_units,
    s.n_live_units,
    NULLIF(s.mean_of_means, 'NaN') AS mean_of_means,
    NULLIF(s.sd_of_means, 'NaN') AS sd_of_means,
    NULLIF(s.max_of_means, 'NaN') AS max_of_means,
    NULLIF(s.mean_frac_nonzero, 'NaN') AS mean_frac_nonzero,
    NULLIF(s.max_class_informedness, 'NaN') AS max_class_informedness,
    s.n_ccmas_class,
    s.n_precision_60_class,
    s.n_mi_class,
    s.n_claimed,
    s.n_zero::double precision / NULLIF(c.n_analysed::bigint * s.n_units, 0) AS zero_share
FROM seldb_store.layer_class_summary AS s
JOIN seldb_store.runs AS r ON r.run_id = s.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = s.run_id AND l.layer_id = s.layer_id
JOIN seldb_store.run_classes AS c ON c.run_id = s.run_id AND c.class_index = s.class_index;

-- seldb.measure_correlations_variants: the pairwise correlations between
-- measures across units that the importer computed (scipy: PostgreSQL has no
-- t distribution for the p-values), over the live units (includes_dead false)
-- and over every unit (includes_dead true); layer NULL means all layers of the
-- run together. seldb.measure_correlations and
-- seldb.measure_correlations_with_dead show one variant each.
CREATE OR REPLACE VIEW seldb.measure_correlations_variants AS
SELECT
    mc.run_id,
    r.model,
    l.name AS layer,
    mc.measure_a,
    mc.measure_b,
    mc.includes_dead,
    mc.n_units,
    NULLIF(mc.pearson_r, 'NaN') AS pearson_r,
    NULLIF(mc.pearson_p, 'NaN') AS pearson_p,
    NULLIF(mc.spearman_rho, 'NaN') AS spearman_rho,
    NULLIF(mc.spearman_p, 'NaN') AS spearman_p
FROM seldb_store.measure_correlations AS mc
JOIN seldb_store.runs AS r ON r.run_id = mc.run_id
LEFT JOIN seldb_store.run_layers AS l ON l.run_id = mc.run_id AND l.layer_id = mc.layer_id;

-- seldb.measure_correlations: one row per (run, layer, pair of measures) over
-- the live units (the paper's Table A2; dead units would add ties that make
-- correlations look stronger than they are). Layer NULL: all layers together.
-- seldb.measure_correlations_with_dead keeps the dead units.
CREATE OR REPLACE VIEW seldb.measure_correlations AS
SELECT run_id, model, layer, measure_a, measure_b, n_units, pearson_r, pearson_p, spearman_rho, spearman_p
FROM seldb.measure_correlations_variants
WHERE NOT includes_dead;

-- seldb.measure_correlations_with_dead: seldb.measure_correlations over every
-- unit, dead ones included (as seldb computed them before 0.2).
CREATE OR REPLACE VIEW seldb.measure_correlations_with_dead AS
SELECT run_id, model, layer, measure_a, measure_b, n_units, pearson_r, pearson_p, spearman_rho, spearman_p
FROM seldb.measure_correlations_variants
WHERE includes_dead;

-- seldb.detector_claims: units that Zhou et al. (2015)'s criterion,
-- precision_60 > 0.75, calls object detectors, beside the measures that say
-- how good a detector each really is. classes_agree: the precision, CCMAS and
-- max-informedness classes are one class (false when any is missing).
-- survives: the claim holds up to resampling and to chance (seldb
-- uncertainty): precision_60's lower bound > 0.75 and its q-value < 0.05;
-- NULL where the unit's layer has no intervals or no chance baseline.
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
    COALESCE(m.precision_60_class = m.ccmas_class AND m.ccmas_class = m.mi_class, false) AS classes_agree,
    m.is_dead,
    m.unit_key,
    u.lo AS precision_60_lo,
    u.hi AS precision_60_hi,
    u.q AS precision_60_q,
    CASE WHEN u.lo IS NULL OR u.q IS NULL THEN NULL ELSE u.lo > 0.75 AND u.q < 0.05 END AS survives
FROM seldb.unit_measures AS m
LEFT JOIN seldb_store.run_layers AS rl ON rl.run_id = m.run_id AND rl.name = m.layer
LEFT JOIN seldb_store.unit_measure_uncertainty AS u
    ON u.run_id = m.run_id AND u.layer_id = rl.layer_id AND u.unit = m.unit AND u.measure = 'precision_60'
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
    m.recall_p1,
    m.unit_key
FROM seldb.unit_measures AS m
WHERE m.precision_60 > 0.75 AND m.mi_false_discovery_rate >= 0.5;

-- seldb.concept_measures: one row per (unit, concept): each measure of a set
-- of classes A (the concept) against all other images, with the Network
-- Dissection IoU of the unit with the label named like the concept
-- (case-insensitive): computed by `seldb dissect` when the layer was
-- dissected, else from an imported tally's rows; NULL when neither has it.
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
    COALESCE(
        (
            -- computed by `seldb dissect`: every label has an IoU, not only each category's best
            SELECT max(i.iou)
            FROM seldb_store.dissections AS d
            JOIN seldb_store.dissection_labels AS lb ON lb.dissection_id = d.dissection_id
            JOIN seldb_store.dissection_iou AS i
                ON i.dissection_id = d.dissection_id AND i.label_number = lb.label_number AND i.unit = cm.unit
            WHERE d.run_id = cm.run_id AND d.layer_id = cm.layer_id AND lower(lb.name) = lower(c.name)
        ),
        (
            -- a scalar subquery, not a join: two tally labels differing only in case cannot duplicate the row
            SELECT max(NULLIF(nd.iou, 'NaN'))
            FROM seldb_store.netdissect AS nd
            WHERE nd.run_id = cm.run_id AND nd.layer_id = cm.layer_id AND nd.unit = cm.unit
              AND lower(nd.label) = lower(c.name)
        )
    ) AS iou,
    cm.run_id || ':' || l.name || '.' || cm.unit AS unit_key
FROM seldb_store.concept_measures AS cm
JOIN seldb_store.runs AS r ON r.run_id = cm.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = cm.run_id AND l.layer_id = cm.layer_id
JOIN seldb_store.concepts AS c ON c.concept_id = cm.concept_id;

-- seldb.netdissect: Network Dissection labels of units, imported from a
-- tally.csv (`seldb import netdissect`, source 'imported') or computed by
-- `seldb dissect` (source 'computed', with its quantile and dataset), one row
-- per (unit, label): the unit's top label (is_top, with NetDissect's score)
-- and the best label of every other category, each with its IoU, beside the
-- unit's precision, CCMAS and informedness, so that "do the units Network
-- Dissection calls object detectors pass the other measures?" is one query.
-- Units without a tally row are absent. A unit whose IoU is 0 with every
-- label keeps its top row with label NULL and score 0, as tally.csv has it.
-- is_detector: the top label's IoU exceeds 0.04, the cut above which Network
-- Dissection (Bau et al. 2017) calls a unit a detector of that label.
CREATE OR REPLACE VIEW seldb.netdissect AS
SELECT
    nd.run_id,
    r.model,
    l.name AS layer,
    nd.unit,
    l.name || '.' || nd.unit AS unit_label,
    nd.category,
    NULLIF(nd.label, '') AS label,
    nd.score IS NOT NULL AS is_top,
    NULLIF(nd.score, 'NaN') AS score,
    NULLIF(nd.iou, 'NaN') AS iou,
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
    nd.score IS NOT NULL AND nd.iou > 0.04 AS is_detector,
    nd.source,
    nd.dissection_id,
    d.quantile,
    d.dataset,
    nd.run_id || ':' || l.name || '.' || nd.unit AS unit_key
FROM seldb_store.netdissect AS nd
JOIN seldb_store.runs AS r ON r.run_id = nd.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = nd.run_id AND l.layer_id = nd.layer_id
LEFT JOIN seldb_store.dissections AS d ON d.dissection_id = nd.dissection_id
LEFT JOIN seldb.unit_measures AS m ON m.run_id = nd.run_id AND m.layer = l.name AND m.unit = nd.unit;

-- seldb.unit_label_iou: one row per (dissected unit, label) of `seldb dissect`:
-- the unit's intersection, union and IoU with every label of the Broden-format
-- dataset's chosen categories (zeros included), beside the unit's
-- class-selectivity measures (NULL when the run has none: a run that dissect
-- made itself), for cross-measure queries such as "the IoU of every unit with
-- `car` against its precision". union_pixels = activation + truth - intersection,
-- where activation counts the unit's thresholded pixels in the images where
-- the label's category lies under them (NetDissect-Lite's rule, see
-- docs/dissect.md); iou = intersection / (union_pixels + 1e-10).
CREATE OR REPLACE VIEW seldb.unit_label_iou AS
SELECT
    d.run_id,
    r.model,
    l.name AS layer,
    i.unit,
    l.name || '.' || i.unit AS unit_label,
    lb.category,
    lb.name AS label,
    i.label_number,
    i.iou,
    i.intersection,
    i.activation + lb.truth - i.intersection AS union_pixels,
    i.activation,
    lb.truth,
    d.thresholds[i.unit + 1] AS threshold,
    m.precision_60,
    m.precision_60_class,
    m.ccmas,
    m.ccmas_class,
    m.recall_p1,
    m.max_informedness,
    m.mi_class,
    d.dissection_id,
    d.quantile,
    d.dataset,
    d.run_id || ':' || l.name || '.' || i.unit AS unit_key
FROM seldb_store.dissection_iou AS i
JOIN seldb_store.dissections AS d ON d.dissection_id = i.dissection_id
JOIN seldb_store.dissection_labels AS lb ON lb.dissection_id = i.dissection_id AND lb.label_number = i.label_number
JOIN seldb_store.runs AS r ON r.run_id = d.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = d.run_id AND l.layer_id = d.layer_id
LEFT JOIN seldb.unit_measures AS m ON m.run_id = d.run_id AND m.layer = l.name AND m.unit = i.unit;

-- seldb.detector_summary: one row per (run, layer), and one per run with
-- layer NULL for all layers together: how many units the precision criterion
-- (precision_60 > 0.75, seldb.detector_claims) calls object detectors, and
-- how good those "detectors" are by the measures that count misses and false
-- alarms. The numbers behind the verdict of `seldb report detectors`.
-- n_fdr_at_least_half: claimed units wrong at least half the time they fire
-- at their best informedness threshold (mi_false_discovery_rate >= 0.5).
-- n_robust: claims that survive resampling and chance (detector_claims.survives),
-- out of n_assessed claims whose layer has intervals and a chance baseline.
CREATE OR REPLACE VIEW seldb.detector_summary AS
WITH units AS (
    SELECT m.run_id, m.model, m.layer, count(*)::integer AS n_units
    FROM seldb.unit_measures AS m
    GROUP BY GROUPING SETS ((m.run_id, m.model, m.layer), (m.run_id, m.model))
),
claims AS (
    SELECT
        d.run_id,
        d.layer,
        count(*)::integer AS n_claimed,
        count(*) FILTER (WHERE d.classes_agree)::integer AS n_classes_agree,
        count(*) FILTER (WHERE d.mi_false_discovery_rate >= 0.5)::integer AS n_fdr_at_least_half,
        count(*) FILTER (WHERE d.recall_p1 >= 0.5)::integer AS n_recall_p1_at_least_half,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.recall_p1) AS median_recall_p1,
        max(d.recall_p1) AS max_recall_p1,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.max_informedness) AS median_max_informedness,
        max(d.max_informedness) AS max_max_informedness,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_recall) AS median_mi_recall,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_false_alarm_rate) AS median_mi_false_alarm_rate,
        percentile_cont(0.5) WITHIN GROUP (ORDER BY d.mi_false_discovery_rate) AS median_mi_false_discovery_rate,
        count(d.survives)::integer AS n_assessed,
        count(*) FILTER (WHERE d.survives)::integer AS n_robust
    FROM seldb.detector_claims AS d
    GROUP BY GROUPING SETS ((d.run_id, d.layer), (d.run_id))
)
SELECT
    u.run_id,
    u.model,
    u.layer,
    u.n_units,
    COALESCE(c.n_claimed, 0) AS n_claimed,
    100.0::double precision * COALESCE(c.n_claimed, 0) / u.n_units AS pct_claimed,
    COALESCE(c.n_classes_agree, 0) AS n_classes_agree,
    COALESCE(c.n_fdr_at_least_half, 0) AS n_fdr_at_least_half,
    COALESCE(c.n_recall_p1_at_least_half, 0) AS n_recall_p1_at_least_half,
    c.median_recall_p1,
    c.max_recall_p1,
    c.median_max_informedness,
    c.max_max_informedness,
    c.median_mi_recall,
    c.median_mi_false_alarm_rate,
    c.median_mi_false_discovery_rate,
    COALESCE(c.n_assessed, 0) AS n_assessed,
    COALESCE(c.n_robust, 0) AS n_robust
FROM units AS u
LEFT JOIN claims AS c ON c.run_id = u.run_id AND c.layer IS NOT DISTINCT FROM u.layer;

-- seldb.am_ratings: human ratings of activation-maximisation (AM) images
-- (`seldb import ratings`), one row per (unit, rater): did the rater see an
-- object, and which. label_key is the label as compared: lower case, spaces
-- collapsed, mapped through the synonym file given at import (a synonym group
-- holding one of the run's class names maps to that name). top_class is the
-- class of the unit's most active image, ccmas_class the class with the
-- highest mean activation; the matches are NULL when the rater gave no label.
CREATE OR REPLACE VIEW seldb.am_ratings AS
SELECT
    ar.run_id,
    r.model,
    l.name AS layer,
    ar.unit,
    l.name || '.' || ar.unit AS unit_label,
    ar.rater,
    ar.judged_object,
    ar.label,
    ar.label_key,
    c_top.label AS top_class,
    c_ccmas.label AS ccmas_class,
    ar.label_key = lower(c_top.name) AS matches_top_class,
    ar.label_key = lower(c_ccmas.name) AS matches_ccmas_class,
    ar.run_id || ':' || l.name || '.' || ar.unit AS unit_key
FROM seldb_store.am_ratings AS ar
JOIN seldb_store.runs AS r ON r.run_id = ar.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = ar.run_id AND l.layer_id = ar.layer_id
LEFT JOIN seldb_store.unit_arrays AS a ON a.run_id = ar.run_id AND a.layer_id = ar.layer_id AND a.unit = ar.unit
LEFT JOIN seldb_store.run_images AS i ON i.run_id = a.run_id AND i.image_index = a.top_image[1]
LEFT JOIN seldb_store.run_classes AS c_top ON c_top.run_id = i.run_id AND c_top.class_index = i.label
LEFT JOIN seldb_store.unit_measures AS m ON m.run_id = ar.run_id AND m.layer_id = ar.layer_id AND m.unit = ar.unit
LEFT JOIN seldb_store.run_classes AS c_ccmas ON c_ccmas.run_id = m.run_id AND c_ccmas.class_index = m.ccmas_class;

-- seldb.am_ratings_summary: the paper's Table 1 per (run, layer), from
-- seldb.am_ratings.
--   pct_yes: % of ratings that judged the AM image an object;
--   pct_units_80_yes: % of rated units judged an object by >= 80% of raters;
--   pct_raters_agree: % of pairs of raters of one unit, both saying yes with a
--     label, whose labels agree (label_key: case-insensitive, synonyms mapped);
--   pct_match_top_class / pct_match_ccmas_class: % of yes-ratings with a label
--     whose label is the unit's most-active class / its CCMAS class;
--   fleiss_kappa: Fleiss' kappa of the yes/no judgements over the units with
--     at least two raters (Fleiss 1971, with the per-unit agreement averaged
--     when units have different numbers of raters); NULL when every rating
--     is the same answer.
CREATE OR REPLACE VIEW seldb.am_ratings_summary AS
WITH ratings AS (
    SELECT run_id, model, layer, unit, rater, judged_object, label_key, matches_top_class, matches_ccmas_class
    FROM seldb.am_ratings
),
units AS (
    SELECT run_id, model, layer, unit, count(*) AS n, count(*) FILTER (WHERE judged_object) AS n_yes
    FROM ratings
    GROUP BY run_id, model, layer, unit
),
per_layer AS (
    SELECT
        run_id, model, layer,
        count(*)::integer AS n_units,
        sum(n)::integer AS n_ratings,
        sum(n_yes)::integer AS n_yes,
        count(*) FILTER (WHERE 5 * n_yes >= 4 * n)::integer AS n_units_80_yes,
        avg((n_yes * n_yes + (n - n_yes) * (n - n_yes) - n)::double precision / (n * (n - 1)))
            FILTER (WHERE n >= 2) AS p_bar,
        sum(n_yes) FILTER (WHERE n >= 2)::double precision / NULLIF(sum(n) FILTER (WHERE n >= 2), 0) AS p_yes
    FROM units
    GROUP BY run_id, model, layer
),
labels AS (
    SELECT
        run_id, layer,
        count(DISTINCT rater)::integer AS n_raters,
        count(*) FILTER (WHERE judged_object AND label_key IS NOT NULL)::integer AS n_labels,
        count(*) FILTER (WHERE judged_object AND matches_top_class)::integer AS n_match_top,
        count(*) FILTER (WHERE judged_object AND matches_ccmas_class)::integer AS n_match_ccmas
    FROM ratings
    GROUP BY run_id, layer
),
pairs AS (
    SELECT
        a.run_id, a.layer,
        count(*)::integer AS n_pairs,
        count(*) FILTER (WHERE a.label_key = b.label_key)::integer AS n_agree
    FROM ratings AS a
    JOIN ratings AS b ON b.run_id = a.run_id AND b.layer = a.layer AND b.unit = a.unit AND a.rater < b.rater
    WHERE a.judged_object AND b.judged_object AND a.label_key IS NOT NULL AND b.label_key IS NOT NULL
    GROUP BY a.run_id, a.layer
),
kappa AS (
    SELECT *, p_yes * p_yes + (1 - p_yes) * (1 - p_yes) AS p_e FROM per_layer
)
SELECT
    k.run_id,
    k.model,
    k.layer,
    k.n_units,
    lb.n_raters,
    k.n_ratings,
    100.0::double precision * k.n_yes / k.n_ratings AS pct_yes,
    100.0::double precision * k.n_units_80_yes / k.n_units AS pct_units_80_yes,
    COALESCE(p.n_pairs, 0) AS n_label_pairs,
    100.0::double precision * p.n_agree / NULLIF(p.n_pairs, 0) AS pct_raters_agree,
    lb.n_labels,
    100.0::double precision * lb.n_match_top / NULLIF(lb.n_labels, 0) AS pct_match_top_class,
    100.0::double precision * lb.n_match_ccmas / NULLIF(lb.n_labels, 0) AS pct_match_ccmas_class,
    (k.p_bar - k.p_e) / NULLIF(1 - k.p_e, 0) AS fleiss_kappa
FROM kappa AS k
JOIN labels AS lb ON lb.run_id = k.run_id AND lb.layer = k.layer
LEFT JOIN pairs AS p ON p.run_id = k.run_id AND p.layer = k.layer;

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

-- seldb.control_units: one row per hidden unit of a control run: every column of
-- seldb.unit_measures, then the network's condition, seed, cell, size and class space from
-- seldb.control_runs, so one query can compare the control's units with any other run's
-- (join seldb.unit_measures on run_id and keep COALESCE(condition, model) as the group).
CREATE OR REPLACE VIEW seldb.control_units AS
SELECT
    u.*,
    c.control,
    c.condition,
    c.seed,
    c.cell,
    c.hidden,
    c.class_space,
    c.criterion_reached
FROM seldb.unit_measures AS u
JOIN seldb.control_runs AS c ON c.run_id = u.run_id;

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

-- seldb.rating_study_progress: one row per (rating study, rater) with at
-- least one rating of a unit of the study: how far the rater got. A rater
-- who stops and comes back with the same name resumes at the first item of
-- the sheet's order without a rating (docs/serve.md).
CREATE OR REPLACE VIEW seldb.rating_study_progress AS
SELECT
    s.name AS study,
    s.run_id,
    ar.rater,
    n.n_items,
    count(*)::integer AS n_answered,
    count(*) FILTER (WHERE ar.judged_object)::integer AS n_yes,
    count(*) = n.n_items AS complete
FROM seldb_store.rating_studies AS s
JOIN seldb_store.rating_study_items AS it ON it.study_id = s.study_id
JOIN seldb_store.am_ratings AS ar ON ar.run_id = it.run_id AND ar.layer_id = it.layer_id AND ar.unit = it.unit
CROSS JOIN LATERAL (
    SELECT count(*)::integer AS n_items FROM seldb_store.rating_study_items AS x WHERE x.study_id = s.study_id
) AS n
GROUP BY s.name, s.run_id, ar.rater, n.n_items;
