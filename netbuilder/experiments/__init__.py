"""Experiments: sweeps of training settings and architecture variants, run by Optuna.

Sits above training and below the UI: a study (:mod:`.study`) holds the project and its
search space (:mod:`.space`); worker processes (:mod:`.worker`, started by
:mod:`.runner`) take trials from it and train each variant (:mod:`.trial`); the command
line (:mod:`.cli`) and the Experiments panel read the results from the study's storage.
No Qt here.
"""
