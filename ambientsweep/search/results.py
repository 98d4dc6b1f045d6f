"""What a trial reports to Ray Tune, as plain dicts (Ray-free: the benchmark replays it).

Each report carries the metrics measured at that point and the two time axes: ``kimg`` (images
seen, thousands; never moves back, since per-round metrics come with step = round) and
``budget_fraction`` (kimg over the trial's own full budget, so trials of different budgets
compare at the same relative progress). Evaluation metrics therefore appear only in the
results of evaluation points — a scheduler that watches them acts there and nowhere else. The
final report (``budget_complete``) carries every metric's last value with it, so Ray's last
result of a finished trial holds them all.
"""

from __future__ import annotations

from ambientsweep.metrics import names

BUDGET_KEY = names.BUDGET_COMPLETE
TIME_ATTR = names.KIMG
BUDGET_FRACTION = "budget_fraction"  # kimg over the trial's own full budget (0..1)


class TrialResults:
    """Turns a trial's reports (metrics, step = images seen) into Ray results."""

    def __init__(self, total_kimg: float) -> None:
        if total_kimg <= 0:
            raise ValueError(f"a trial's budget must be positive, got {total_kimg} kimg")
        self.total_kimg = float(total_kimg)
        self.latest: dict[str, float] = {}
        self.kimg = 0.0

    def result(self, metrics: dict[str, float], *, step: int) -> dict[str, float]:
        self.kimg = max(self.kimg, step / 1000.0)
        self.latest.update(metrics)
        own = dict(self.latest) if metrics.get(BUDGET_KEY) else dict(metrics)
        return {**own, TIME_ATTR: self.kimg, BUDGET_FRACTION: self.kimg / self.total_kimg}
