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
    {{concept_measure_columns}},
    (
        -- a scalar subquery, not a join: two tally labels differing only in case cannot duplicate the row
        SELECT max(NULLIF(nd.iou, 'NaN'))
        FROM seldb_store.netdissect AS nd
        WHERE nd.run_id = cm.run_id AND nd.layer_id = cm.layer_id AND nd.unit = cm.unit
          AND lower(nd.label) = lower(c.name)
    ) AS iou,
    cm.run_id || ':' || l.name || '.' || cm.unit AS unit_key
FROM seldb_store.concept_measures AS cm
JOIN seldb_store.runs AS r ON r.run_id = cm.run_id
JOIN seldb_store.run_layers AS l ON l.run_id = cm.run_id AND l.layer_id = cm.layer_id
JOIN seldb_store.concepts AS c ON c.concept_id = cm.concept_id;
