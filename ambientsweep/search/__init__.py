"""Ray Tune driving the sweep, one job a module (only this package imports ray).

- :mod:`.algorithms`  the search algorithms and Optuna samplers (names only; no imports)
- :mod:`.resources`   CPUs/GPUs of this machine and fit checks (no ray)
- :mod:`.space`       the spec's space as an Optuna define-by-run function and sampler
- :mod:`.cluster`     start, connect to and stop Ray; Ray's logs to the sweep's log file
- :mod:`.searchers`   grid, replicate grouping, budget-aware Optuna
- :mod:`.trainable`   one trial under Ray, recorded through :mod:`ambientsweep.tracking`
- :mod:`.callbacks`   final trial states and the live terminal view (driver side)
- :mod:`.tuner`       scheduler, then build and fit (or resume) the run
- :mod:`.results`     what a trial reports to Ray (kimg, budget_fraction, final report; no ray)
- :mod:`.moasha_rank` multi-objective successive halving: ranking and decisions (no ray)
- :mod:`.moasha`      MOASHA as a Ray Tune scheduler
- :mod:`.schedulers`  the sweep's early-stopping scheduler (moasha, asha, median)

Importing the package imports no ray; it only sets Ray's environment defaults, which Ray
reads when first imported (by any module here).
"""

import os

os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")  # the live view replaces Ray's tables
os.environ.setdefault("TUNE_DISABLE_AUTO_CALLBACK_LOGGERS", "1")  # MLflow is the record
os.environ.setdefault("RAY_DEDUP_LOGS", "0")
