"""The activation file, seldb's interchange format (HDF5): reading, writing, and the units-first copy.

One file holds one model's activations on one image set (docs/activations.md
is the format). `reader` opens and validates a file and hands out blocks of
units; `writer` writes one (what `seldb ingest`, the control and the SAE
record into); `unitmajor` is the temporary units-first copy every layout is
read through during an import, so contiguous, chunked, tiled and compressed
files cost the same.
"""

from seldb.h5.reader import ActivationFile
from seldb.h5.writer import ActivationWriter, write_activation_file

__all__ = ["ActivationFile", "ActivationWriter", "write_activation_file"]
