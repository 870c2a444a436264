"""seldb: is this unit really an object detector?

Computes every selectivity measure of Gale et al. (precision, CCMAS, localist
margin, recall at precision, maximum informedness, ...) for every unit of a
network and stores them in PostgreSQL behind stable SQL views.
"""

__version__ = "0.1.0"

from seldb.errors import InputError, NotFound, SeldbError  # noqa: E402

__all__ = ["__version__", "SeldbError", "InputError", "NotFound", "connect"]


def __getattr__(name: str):
    # seldb.connect() loads polars, SQLAlchemy and the views on first use only,
    # so that `import seldb` stays light (and never imports the CLI)
    if name == "connect":
        from seldb.api import connect

        return connect
    raise AttributeError(f"module 'seldb' has no attribute {name!r}")
