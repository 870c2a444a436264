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
    {{unit_measure_columns}},
    m.run_id || ':' || l.name || '.' || m.unit AS unit_key
FROM seldb_store.unit_measures AS m
JOIN seldb_store.runs AS r ON r.run_id = m.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = m.run_id AND l.layer_id = m.layer_id
{{unit_measure_class_joins}};
