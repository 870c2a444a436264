"""seldb's PostgreSQL: which server, one database handle, schema, migrations, views, bulk loading.

Library code connects through a `Database` (seldb.db.database; the `Seldb`
handle is one), which makes sure the schema is at the revision this seldb
needs. Migrations are in seldb.db.migrate (imported on demand: alembic is slow
to import).
"""

from seldb.db.database import Database
from seldb.db.server import database_url

__all__ = ["Database", "database_url"]
