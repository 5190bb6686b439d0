"""Inference: :func:`~speechdis.inference.model.load_model` and the
:class:`~speechdis.inference.model.Embedder` (:mod:`~speechdis.inference.model`), and the batch
extraction runner over data dirs (:mod:`~speechdis.inference.extract`).

Import the submodules directly, so ``import speechdis`` stays light.
"""
