"""The width-sweep engine: many MLPs of one depth trained at once as a single batched model.

Layered from the bottom up: :mod:`labsupport.sweep.model` (the batched MLP,
:class:`~labsupport.sweep.model.MLPSweep`), :mod:`labsupport.sweep.grad` (its hand-written
backward pass), :mod:`labsupport.sweep.optim` (batched SGD and Adam) and
:mod:`labsupport.sweep.train` (the training loop and evaluation). Lab 3 writes one width's loop
out on the page; the sweep runs every width of its double-descent curve in one go.
"""
