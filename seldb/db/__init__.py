"""seldb's PostgreSQL: which server, the database handle, the schema and its views, reading and writing.

`server` says which PostgreSQL (SELDB_DATABASE_URL or an embedded one) and
`status` reports on it; `database` is the `Database` every library call
connects through (the `Seldb` handle is one), checking the schema revision
once; `schema` holds the storage tables, `migrate` drives alembic (imported
on demand: alembic is slow to import), `views` creates the public views of
schema `seldb` and documents them (`docgen` writes docs/views.md and the
handle's view methods from the same source). `read` is the one read layer:
runs, layers and units resolved, views read into frames. `write` and `bulk`
load a run by binary COPY; `runs` lists, shows and deletes runs; `query` runs
a user's SQL.
"""

from seldb.db.database import Database
from seldb.db.server import database_url

__all__ = ["Database", "database_url"]
