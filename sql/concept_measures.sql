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
    {{concept_measure_columns}},
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
