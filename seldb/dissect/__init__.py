"""seldb.dissect: Network Dissection (IoU of every unit with every Broden concept), computed by seldb.

seldb could only import a tally.csv made by NetDissect(-Lite), which meant
keeping a second, torch-0.4-era toolchain alive. This package computes the
same numbers for any torch network, following NetDissect-Lite's definitions
(docs/dissect.md says where they were ambiguous and what we chose):

- `broden`: read and check a Broden-format directory (index.csv, label.csv,
  category.csv, c_<category>.csv, segmentation PNGs with label = R + 256 G);
- `minibroden`: generate a tiny Broden-format dataset by code (tests, demo);
- `features`: run the network with forward hooks, one batch of maps at a time;
- `mapstore`: the temporary on-disk store of every map (never all in RAM);
- `thresholds`: exact per-unit percentiles in two streaming passes;
- `upsample`: the bilinear upsampling NetDissect-Lite applies (PIL's), and the
  2017 code's interpolation between receptive-field centres;
- `rules`: the union, upsampling and threshold rules (Lite's, 2017's, davidbau's) and their presets;
- `fieldmap`: each layer's receptive-field map, composed from the modules that ran;
- `tally`: intersection and union counts per (unit, label), IoU, best labels;
- `result` / `tallycsv`: the result frames, and tally.csv read and written in NetDissect-Lite's layout;
- `pipeline`: `dissect(net, layers, broden_dir, ...)`, the whole sequence;
- `planted_net`: a network whose unit fires exactly on one concept (tests, demo);
- `network`: the network of `seldb dissect`, resolved as `seldb ingest` does (seldb.nets);
- `saving`: the run it joins or makes, its tables, its tally rows (database);
- `imported`: a tally.csv made elsewhere, imported into a run (`seldb import netdissect`);
- `options`: DissectOptions and the stored result, DissectImport;
- `command`: `run_dissect(db, DissectOptions)`, what `db.dissect()` and the CLI call.

torch is imported only by `features`, `fieldmap`, `pipeline`, `planted_net`, `network` and `command`.
"""

from __future__ import annotations


def dissect(net, layers, broden_dir, **options):
    """dissect(net, ["conv5"], "broden1_227", quantile=0.005) -> DissectResult (see seldb.dissect.pipeline)."""
    from seldb.dissect.pipeline import dissect as _dissect

    return _dissect(net, layers, broden_dir, **options)


__all__ = ["dissect"]
