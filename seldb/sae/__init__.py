"""Sparse autoencoders over a stored run's layer: trained here or loaded from SAELens's format.

Its latents are recorded for every image of the run into an ordinary
activation file and imported as a new run, so every measure, view, report
and page treats latents exactly as it treats neurons. options (no torch),
model (the SAE in torch, SAELens's on-disk format), source (the run's
activation file, checked), train (the training loop), topk (TopK's loss
computed on the chosen latents only), record (latents and
quality in one pass), command (the whole flow, ending in the import).
"""
