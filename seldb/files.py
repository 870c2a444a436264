"""File identity: the SHA-256 that ties a run to its activation file, its weights and its images.

A run records the digest of every file it was made from, so that a later
command (uncertainty, AM, the unit browser) can tell that the file it finds
is the one that was measured, and refuse one that changed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

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
