"""Activation maximisation (AM): images of what a unit responds to, and the material to judge them.

The paper's second line of evidence on "object detectors" (Gale et al.,
Section 3.2, Table 1) is people judging AM images. This package makes those
images for any unit of a network seldb can ingest (seldb.am.maximise), writes
them as reproducible PNGs (seldb.png), rebuilds a run's network from its
provenance (seldb.am.model_source), computes the reference activation of the
dataset's mean image (seldb.am.dataset_mean), draws the "natural AM" contact
sheet of a unit's top dataset images (seldb.am.contact_sheet), and produces
the blinded rating sheet whose answers become a ratings CSV for seldb.ratings
(seldb.ratings.sheet). With a database: `seldb am` on a run's units
(seldb.am.command, stored by seldb.am.am_images in seldb.am_images), the rating
page of a run's units (seldb.ratings.from_am), the top-images sheet of
`seldb report unit --top-images` (seldb.am.natural) and the AM images in the
reports (seldb.reports.am_panels).

Names are imported on first use, so the sheet and CSV code does not pay for
importing torch (no module is named like a function it exports, which would
shadow it).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "METHODS": "seldb.am.options",
    "AMOptions": "seldb.am.options",
    "AMImage": "seldb.am.maximise",
    "AMSettings": "seldb.am.maximise",
    "UnitActivation": "seldb.am.maximise",
    "generate": "seldb.am.maximise",
    "measure": "seldb.am.maximise",
    "reference_activation": "seldb.am.maximise",
    "png_bytes": "seldb.png",
    "write_png": "seldb.png",
    "resolve_layer": "seldb.am.unit_probe",
    "mean_image": "seldb.am.dataset_mean",
    "rebuild_model": "seldb.am.model_source",
    "RebuiltModel": "seldb.am.model_source",
    "write_contact_sheet": "seldb.am.contact_sheet",
    "ContactSheet": "seldb.am.contact_sheet",
    "captioned_grid": "seldb.am.contact_sheet",
    "AMRow": "seldb.am.am_images",
    "activation_maximisation": "seldb.am.command",
    "demo_images": "seldb.am.command",
    "top_images_sheet": "seldb.am.natural",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seldb.am' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
