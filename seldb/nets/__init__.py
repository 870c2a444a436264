"""Networks, as every torch-facing part of seldb sees them: which network a name means, and its layers.

`registry` maps `--model NAME` to an architecture, its classes and its
preprocessing; `weights` loads checkpoints in the layouts they are really
published in; `caffe_googlenet` is Caffe's GoogLeNet; `preprocess` turns
images into the tensors the weights expect; `hooks` is the one forward-hook
recorder that ingest, dissection and activation maximisation read layers
through. Importing the package imports no torch; its modules do.
"""
