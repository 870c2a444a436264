"""Settings: database URLs, masking, and where the embedded server keeps its data."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seldb.db.server import database_url
from seldb.errors import SeldbError
from seldb.settings import ROOT_DATA_DIR, default_data_dir, mask_url, normalize_database_url

# --------------------------------------------------------------------------- settings


@pytest.mark.unit
@pytest.mark.parametrize(
    "given, wanted",
    [
        ("postgres://u:p@h:5432/d", "postgresql+psycopg://u:p@h:5432/d"),
        ("postgresql://u@h/d?sslmode=require", "postgresql+psycopg://u@h/d?sslmode=require"),
        ("postgresql+psycopg2://u@h/d", "postgresql+psycopg://u@h/d"),
        ("postgresql+psycopg://u@/d?host=/tmp/x", "postgresql+psycopg://u@/d?host=/tmp/x"),
    ],
)
def test_urls_are_normalised_to_psycopg3(given, wanted):
    assert normalize_database_url(given) == wanted


@pytest.mark.unit
def test_a_non_postgresql_url_is_refused_with_its_password_masked():
    with pytest.raises(SeldbError, match=r"must be a PostgreSQL URL.*mysql://u:\*\*\*@h/d"):
        normalize_database_url("mysql://u:secret@h/d")


@pytest.mark.unit
@pytest.mark.parametrize(
    "given, wanted",
    [
        ("postgresql+psycopg://u:s3cr:et@h:5432/d", "postgresql+psycopg://u:***@h:5432/d"),
        ("postgresql://u@h/d", "postgresql://u@h/d"),
        ("postgresql://h/d?user=u&password=pw&sslmode=x", "postgresql://h/d?user=u&password=***&sslmode=x"),
    ],
)
def test_mask_url_hides_passwords(given, wanted):
    assert mask_url(given) == wanted


@pytest.mark.unit
def test_data_dir_follows_env_user_and_root(monkeypatch, tmp_path):
    monkeypatch.setenv("SELDB_DATA_DIR", str(tmp_path))
    assert default_data_dir() == tmp_path
    monkeypatch.delenv("SELDB_DATA_DIR")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    assert default_data_dir() == ROOT_DATA_DIR  # pgserver must never make /root world-traversable
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    monkeypatch.setenv("XDG_DATA_HOME", str(tmp_path / "xdg"))
    assert default_data_dir() == tmp_path / "xdg" / "seldb"
    monkeypatch.delenv("XDG_DATA_HOME")
    assert default_data_dir() == Path.home() / ".local" / "share" / "seldb"


@pytest.mark.unit
def test_the_embedded_server_never_lives_under_root_home(monkeypatch):
    monkeypatch.delenv("SELDB_DATABASE_URL", raising=False)
    monkeypatch.setenv("SELDB_DATA_DIR", "/root/.local/share/seldb")
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    with pytest.raises(SeldbError, match="refusing to run the embedded PostgreSQL"):
        database_url()
