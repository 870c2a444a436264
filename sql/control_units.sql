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
