"""Training: the config tree (:mod:`~speechdis.training.config`), checkpoint I/O
(:mod:`~speechdis.training.checkpoint`) and the loop (:mod:`~speechdis.training.loop`).

Import the submodules directly; inference needs only ``config`` and ``checkpoint``, never the loop.
"""
