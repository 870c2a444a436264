"""The resume record: a small JSON file beside the activation file.

An ingest over 700,000 images runs for hours; killing it must not cost the
hours. After every chunk the runner flushes the activation file and then
writes this record (atomically), so the record never claims rows that are not
on disk. It also holds the recording's identity (the options that must
agree): resuming with other options
would splice two different runs into one file, so that is refused, naming the
options that differ.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from seldb.errors import InputError


def state_path(out: Path) -> Path:
    return out.with_name(out.name + ".ingest.json")


@dataclass
class IngestState:
    identity: dict  # the options that must agree for a resume (model, weights, layers, images, ...)
    rows: int = 0  # rows of the activation file that are complete
    next_index: int = 0  # position in the image list where the next chunk starts
    n_correct: int = 0
    skipped: list[dict] = field(default_factory=list)  # {"path", "reason"} per unreadable image
    complete: bool = False

    @classmethod
    def load(cls, out: Path) -> IngestState | None:
        path = state_path(out)
        if not path.is_file():
            return None
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            if "fingerprint" in record:  # the name seldb 0.1's records used
                record["identity"] = record.pop("fingerprint")
            return cls(**record)
        except (ValueError, TypeError) as exc:
            raise InputError(f"{path}: unreadable resume record ({exc}); pass --force to start over") from None

    def save(self, out: Path) -> None:
        path = state_path(out)
        tmp = path.with_name(path.name + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=1), encoding="utf-8")
        os.replace(tmp, path)  # atomic: a kill leaves the old record or the new one

    def differences(self, identity: dict) -> list[str]:
        """'option: before -> now' for every option that differs."""
        keys = dict.fromkeys([*self.identity, *identity])
        return [
            f"{k}: {_show(self.identity.get(k))} -> {_show(identity.get(k))}"
            for k in keys
            if self.identity.get(k) != identity.get(k)
        ]


def _show(value) -> str:
    text = json.dumps(value) if not isinstance(value, str) else value
    return text if len(text) <= 80 else text[:77] + "..."


def remove_state(out: Path) -> None:
    state_path(out).unlink(missing_ok=True)
