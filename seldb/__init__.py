"""seldb: is this unit really an object detector?

Computes every selectivity measure of Gale et al. (precision, CCMAS, localist
margin, recall at precision, maximum informedness, ...) for every unit of a
network and stores them in PostgreSQL behind stable SQL views.

The front door: `seldb.connect()` returns the handle (seldb.api.Seldb) whose
methods do everything; docs/architecture.md maps the packages behind it.
"""

__version__ = "0.2.0"  # the one version number (pyproject.toml reads it from here)

from seldb import aliases  # noqa: E402
from seldb.errors import InputError, NotFound, SeldbError  # noqa: E402

aliases.install()  # seldb 0.1's module paths, for one release

__all__ = ["__version__", "SeldbError", "InputError", "NotFound", "connect"]


def __getattr__(name: str):
    # seldb.connect() loads polars, SQLAlchemy and the views on first use only,
    # so that `import seldb` stays light (and never imports the CLI)
    if name == "connect":
        from seldb.api import connect

        return connect
    raise AttributeError(f"module 'seldb' has no attribute {name!r}")
