"""seldb.ingest: run a torch network over an image set into an activation file.

Modules, one job each: `models` (registry), `weights` (checkpoint layouts),
`classes` and `imagesets` (what the images are), `preprocess`, `loader`
(decoding, skipping bad files), `hooks` (recording layers), `state` and
`runner` (chunked, resumable writing), `pipeline` (the sequence, then the
import). torch is imported only when one of those is used, so `import seldb`
and `seldb models` stay light.
"""

from __future__ import annotations


def ingest(data, **options):
    """Run `seldb ingest` from Python: ingest(DATA_DIR, model="alexnet-imagenet", ...) -> IngestResult."""
    from seldb.ingest.pipeline import IngestOptions
    from seldb.ingest.pipeline import ingest as _ingest

    notify = options.pop("notify", None)
    return _ingest(IngestOptions(data=data, **options), notify=notify)


def list_models() -> list[dict]:
    """The model registry as rows (name, architecture, classes, default layers, ...)."""
    from seldb.ingest.models import list_models as _list

    return _list()


__all__ = ["ingest", "list_models"]
