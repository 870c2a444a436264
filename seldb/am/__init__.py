"""Activation maximisation (AM): images of what a unit responds to, made from a run's own network.

The paper's second line of evidence on "object detectors" (Gale et al.,
Section 3.2, Table 1) is people judging AM images. `maximise` makes the image
one unit responds to most (`parameterisation` and `transforms` are lucid's
image and jitter; `unit_probe` reads the unit with its gradient);
`model_source` rebuilds a run's network from its provenance; `dataset_images`
finds the run's images here and their mean image; `contact_sheet` draws the
"natural AM" sheet of a unit's top dataset images; `am_images` stores the
images in seldb.am_images; `command` is `seldb am` on a run's units, with
its typed `options`. `batch` optimises many units and samples per pass
(the centre objective, whose crop is `receptive_field`, and the diversity
term between samples, measured by `sample_distance`); `ppgn` samples through
a generator prior with PPGN's update. Rating sheets and studies of these images are
seldb.ratings; AM images in the reports, seldb.reports.am_panels.

Names are imported on first use, so the options and sheets do not pay for
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
    "mean_image": "seldb.am.dataset_images",
    "rebuild_model": "seldb.am.model_source",
    "RebuiltModel": "seldb.am.model_source",
    "write_contact_sheet": "seldb.am.contact_sheet",
    "ContactSheet": "seldb.am.contact_sheet",
    "captioned_grid": "seldb.am.contact_sheet",
    "AMRow": "seldb.am.am_images",
    "activation_maximisation": "seldb.am.command",
    "demo_images": "seldb.am.command",
    "top_images_sheet": "seldb.am.contact_sheet",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'seldb.am' has no attribute {name!r}")
    return getattr(importlib.import_module(_EXPORTS[name]), name)
