"""Keys of the results a trial reports to Ray Tune that the searchers and callbacks read."""

from __future__ import annotations

from ambientsweep.metrics import names

BUDGET_KEY = names.BUDGET_COMPLETE  # 1.0 with the final metrics of a trial's whole budget
DIVERGED_KEY = names.DIVERGED  # 1.0 when the trial's loss became NaN or infinite
TIME_ATTR = names.KIMG  # Ray Tune's time attribute: thousands of training images seen
BUDGET_FRACTION = "budget_fraction"  # kimg over the trial's own full budget (schedulers' axis)
REPLICATE_KEY = "replicate"  # the replicate index in a trial's Tune config
POINT_KEY = "point"  # grid search: the whole point as one Tune config value
TRIAL_KEY = "trial"  # grid search: {point, replicate} as one Tune config value
REUSE_KEY = "reuse_of"  # Tune config: the trial id whose proposal this one repeats
REUSED_KEY = "reused"  # 1.0 in the result of a trial answered from its configuration's run
INVALID_KEY = "invalid_config"  # 1.0 when the proposal failed trial_config validation
REASON_KEY = "reason"  # text: why a trial ended as it did (reused, invalid)
