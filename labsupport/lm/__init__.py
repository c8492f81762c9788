"""The course's code model and what serves it: the engine of Labs 2, 4, 6, 7 and 8.

:mod:`labsupport.lm.model` (``ByteLM``, its shipped weights), :mod:`labsupport.lm.corpus` (the
Python-source corpus), :mod:`labsupport.lm.train` (its training loop),
:mod:`labsupport.lm.serve` (the KV cache and batched decoding),
:mod:`labsupport.lm.speculative` (draft-and-verify decoding), :mod:`labsupport.lm.parallel`
(tensor and pipeline parallelism under torchrun, on one machine or several, with the
process-group plumbing in :mod:`labsupport.lm.process_group`) and
:mod:`labsupport.lm.linetask` (the code-completion task Lab 8 scores). The labs write each of these ideas out once, then use these versions.
"""
