"""Activation maximisation (AM): images of what a unit responds to, and the material to judge them.

The paper's second line of evidence on "object detectors" (Gale et al.,
Section 3.2, Table 1) is people judging AM images. This package makes those
images for any unit of a network seldb can ingest (seldb.am.maximise), writes
them as reproducible PNGs (seldb.am.png), rebuilds a run's network from its
provenance (seldb.am.model_source), computes the reference activation of the
dataset's mean image (seldb.am.dataset_mean), draws the "natural AM" contact
sheet of a unit's top dataset images (seldb.am.contact_sheet), and produces
the blinded rating sheet whose answers become a ratings CSV for seldb.ratings
(seldb.am.rating_sheet). With a database: `seldb am` on a run's units
(seldb.am.run_am, stored by seldb.am.store in seldb.am_images), the rating
page of a run's units (seldb.am.study), the top-images sheet of
`seldb report unit --top-images` (seldb.am.natural) and the AM images in the
reports (seldb.am.in_reports).

Names are imported on first use, so the sheet and CSV code does not pay for
importing torch (no module is named like a function it exports, which would
shadow it).
"""

from __future__ import annotations

import importlib

_EXPORTS = {
    "METHODS": "request",
    "AMOptions": "request",
    "AMImage": "maximise",
    "AMSettings": "maximise",
    "UnitActivation": "maximise",
    "generate": "maximise",
    "measure": "maximise",
    "reference_activation": "maximise",
    "png_bytes": "png",
    "write_png": "png",
    "resolve_layer": "unit_probe",
    "mean_image": "dataset_mean",
    "rebuild_model": "model_source",
    "RebuiltModel": "model_source",
    "write_contact_sheet": "contact_sheet",
    "ContactSheet": "contact_sheet",
    "captioned_grid": "contact_sheet",
    "write_rating_sheet": "rating_sheet",
    "SheetItem": "rating_sheet",
    "RatingSheet": "rating_sheet",
    "read_key": "rating_sheet",
    "ratings_from_answers": "rating_sheet",
    "write_ratings_csv": "rating_sheet",
    "AMRow": "store",
    "activation_maximisation": "run_am",
    "demo_images": "run_am",
    "write_sheet": "study",
    "top_images_sheet": "natural",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seldb.am' has no attribute {name!r}")
    return getattr(importlib.import_module(f"seldb.am.{_EXPORTS[name]}"), name)
