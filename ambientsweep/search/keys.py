"""Keys of the results a trial reports to Ray Tune that the searchers and callbacks read.

NOTE: `budget_complete` and `kimg` become constants of :mod:`ambientsweep.metrics.names`
(issue 15, deliverable 4); these names follow them.
"""

from __future__ import annotations

BUDGET_KEY = "budget_complete"  # 1.0 with the final metrics of a trial's whole budget
DIVERGED_KEY = "diverged"  # 1.0 when the trial's loss became NaN or infinite
TIME_ATTR = "kimg"  # Ray Tune's time attribute: thousands of training images seen
REPLICATE_KEY = "replicate"  # the replicate index in a trial's Tune config
POINT_KEY = "point"  # grid search: the whole point as one Tune config value
