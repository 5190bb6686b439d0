"""Evaluation: spoken term detection (QbE, DTW baseline), same-different AP, speaker verification,
disentanglement probes, plots and reports.

Pure array-in/array-out functions; import the submodules directly (``speechdis.eval.retrieval`` etc.)
so that numba, scikit-learn and matplotlib load only where needed. :mod:`speechdis.eval.runner` is the
orchestration (``speechdis evaluate``) on top of them.
"""
