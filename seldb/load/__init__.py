"""Loading runs: an activation file measured and written into PostgreSQL, and what is computed from it.

`import_h5` is `seldb import-h5` (validate, measure every unit on an engine,
COPY one run in one transaction) with its typed `options`; `summaries` and
`correlations` are the whole-run aggregates computed during the import;
`concepts` measures named sets of classes of a stored run; `uncertainty`
adds bootstrap intervals and a chance baseline to a stored run. Everything
above this layer (ingest, dissect, control, sae) ends in one of these calls.
"""
