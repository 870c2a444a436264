"""The pages of `seldb serve`, one module per page family: runs, units, unit, layer, rate.

Each module's `ROUTES` are mounted by seldb.serve.app; each renders through
seldb.serve.render and reads through seldb.serve.reading.
"""
