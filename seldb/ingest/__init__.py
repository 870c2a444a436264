"""seldb.ingest: run a torch network over an image set into an activation file, then import it.

Modules, one job each: `classes` and `imagesets` (what the images are),
`loader` (decoding, skipping bad files), `device_decode` (JPEGs decoded on
the GPU), `state` and `runner` (chunked, resumable recording), `ray_recording`
(the same on a Ray cluster), `options` (IngestOptions), `command` (the
sequence, then the import). Which network a name means, its weights,
preprocessing and the layer hooks are seldb.nets. torch is imported only when
one of those is used, so `import seldb` and `seldb models` stay light:

    from seldb.ingest import IngestOptions
    result = seldb.connect().ingest(IngestOptions(data="images/", model="alexnet-imagenet"))
"""

from __future__ import annotations

from seldb.ingest.options import IngestOptions, IngestResult


def __getattr__(name: str):
    if name == "ingest":  # torch comes with it
        from seldb.ingest.command import ingest

        return ingest
    raise AttributeError(f"module 'seldb.ingest' has no attribute {name!r}")


def list_models() -> list[dict]:
    """The model registry as rows (name, architecture, classes, default layers, ...)."""
    from seldb.nets.registry import list_models as _list

    return _list()


__all__ = ["IngestOptions", "IngestResult", "ingest", "list_models"]
