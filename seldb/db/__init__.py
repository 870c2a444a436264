"""seldb's PostgreSQL: engine and embedded server, schema, migrations, views.

Library code connects with `connect_checked()`, which makes sure the database
is at the schema revision this seldb needs (a fresh one is upgraded to it).
Migrations are in seldb.db.migrate (imported on demand: alembic is slow to import).
"""

from seldb.db.engine import connect, connect_checked, database_url, dispose_engines, ensure_schema, get_engine

__all__ = ["connect", "connect_checked", "database_url", "dispose_engines", "ensure_schema", "get_engine"]
