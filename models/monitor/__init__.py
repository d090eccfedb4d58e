"""Models that watch themselves: how their predictions fare, whether new items still look
like what they learnt from, when to retrain, and the history a dashboard shows.

- :mod:`acceptance` what became of each prediction (accepted / corrected / left)
- :mod:`drift`      feature-distribution snapshots and drift checks against them
- :mod:`runs`       the log of training runs and the labels each one saw
- :mod:`schedule`   what is due now (cheap SQL only: the idle daemon asks every few minutes)
- :mod:`shadow`     a retrained model against the active one on the same held-out labels
- :mod:`progress`   live progress of a running training (this process)
- :mod:`history`    versions over time with figures, acceptance, drift and reasons

Nothing here imports numpy, scikit-learn or torch: `djml models stats` and `models
history` are quick one-shots, and the daemon's checks must not load a model while
nothing is due.
"""
