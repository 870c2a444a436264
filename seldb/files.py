"""File identity: the SHA-256 that ties a run to its activation file, its weights and its images.

A run records the digest of every file it was made from, so that a later
command (uncertainty, AM, the unit browser) can tell that the file it finds
is the one that was measured, and refuse one that changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from seldb.errors import SeldbError
from seldb.progress import progress_bar


def file_sha256(path: str | os.PathLike, progress: bool = False) -> str:
    """The hex SHA-256 of a file, read in 16 MB pieces (a progress bar in bytes with `progress`)."""
    path = Path(path)
    digest = hashlib.sha256()
    with open(path, "rb") as handle, progress_bar(progress, path.stat().st_size, "sha256", "bytes") as bar:
        while chunk := handle.read(1 << 24):
            digest.update(chunk)
            bar.advance(len(chunk))
    return digest.hexdigest()


def run_source_file(
    run: str, source_file: str | None, sha256: str | None, made_by: str | None, needs: str, verify: bool, progress: bool
) -> Path:
    """A run's activation file as its import recorded it, or one line saying why it cannot be used: the run
    was not loaded from a file (`made_by`: e.g. seldb dissect), the file is gone, or (with `verify`) its
    SHA-256 is not the import's. `needs`: what asks for the file, as the line says it ("an SAE needs")."""
    if not source_file:
        raise SeldbError(
            f"{run} was not loaded from an activation file (source: {made_by or 'unknown'});"
            f" {needs} one: a run of seldb import-h5 or seldb ingest"
        )
    path = Path(source_file)
    if not path.is_file():
        raise SeldbError(
            f"{run}: its activation file {path} is gone; {needs} the activations (put the file back there)"
        )
    if verify and file_sha256(path, progress) != sha256:
        raise SeldbError(f"{run}: {path} has changed since the import (SHA-256 differs)")
    return path
