-- seldb.latest_unit_measures: seldb.unit_measures of the latest run only (the
-- highest run_id), for dashboards that should follow the newest import.
CREATE OR REPLACE VIEW seldb.latest_unit_measures AS
SELECT m.*
FROM seldb.unit_measures AS m
WHERE m.run_id = (SELECT max(run_id) FROM seldb_store.runs);
