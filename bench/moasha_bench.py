"""Hypervolume of the final front vs compute: full grid, single-metric ASHA, MOASHA (issue 16).

The grid of `bench/moasha_sweep.yaml` (12 configurations) is trained once per sweep seed to its
full budget with evaluations at every ninth of it (`bench/moasha_record.py`, the curves). Each
scheduler is then **replayed** on those curves: the scheduler object the sweep itself would
build (`build_scheduler`, i.e. Ray's ASHAScheduler and this project's MOASHAScheduler, driven
with Ray's Trial objects) receives, in simulated time, exactly the results the trials would
report to Ray (`TrialResults`, the code the Ray trainable uses) from `workers` trials running
at a time in the grid's order; a STOP ends the trial at that result and frees its worker. The
cost of a trial is what it trained until it ended (kimg) and its recorded wall time to that
point; the makespan is the simulated wall time of the whole sweep. The final front is over the
configurations that trained their full budget, and its hypervolume uses the sweep's objective
reference points.

    python bench/moasha_bench.py [--curves bench/results/moasha_curves.json] [--workers 2]
    python bench/moasha_bench.py --live-dir DIR   # compare with live sweeps (see --help)
"""

from __future__ import annotations

import argparse
import dataclasses
import heapq
import json
import random
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "bench" / "moasha_sweep.yaml"
CURVES = ROOT / "bench" / "results" / "moasha_curves.json"

SCHEDULERS: dict[str, dict[str, Any] | None] = {
    "grid": None,
    "asha": {"scheduler": "asha", "metric": "fd_digits_cnn"},
    "moasha": {"scheduler": "moasha"},
}


@dataclasses.dataclass
class Outcome:
    states: dict[str, tuple[str, float]]  # configuration key -> (complete|pruned, fraction)
    kimg: float
    trial_seconds: float
    makespan: float
    hypervolume: float
    front: list[str]


def loaded_with(es: dict[str, Any] | None, grace: float, eta: int) -> Any:
    from ambientsweep.spec.load import load_sweep
    from ambientsweep.spec.schema import EarlyStopping

    loaded = load_sweep(SWEEP)
    early = None if es is None else EarlyStopping(**es, grace_fraction=grace,
                                                  reduction_factor=eta)
    spec = loaded.spec.model_copy(update={"early_stopping": early})
    return dataclasses.replace(loaded, spec=spec)


def replay(curves: list[dict[str, Any]], es: dict[str, Any] | None, *, grace: float,
           eta: int, workers: int, order: list[int] | None = None) -> Outcome:
    from ray.tune.experiment import Trial

    from ambientsweep.analysis.pareto import hypervolume
    from ambientsweep.search.moasha import configuration_key
    from ambientsweep.search.results import BUDGET_KEY, TrialResults
    from ambientsweep.search.schedulers import build_scheduler

    loaded = loaded_with(es, grace, eta)
    spec = loaded.spec
    scheduler = build_scheduler(loaded) if es else None
    order = list(range(len(curves))) if order is None else order
    queue = [curves[i] for i in order]
    events: list[tuple[float, int, int]] = []  # (time, trial index, record index)
    trials: dict[int, tuple[Trial, dict[str, Any], float, TrialResults]] = {}
    states: dict[str, tuple[str, float]] = {}
    finals: dict[str, dict[str, float]] = {}
    kimg = seconds = now = 0.0
    started = 0

    def start(at: float) -> None:
        nonlocal started
        c = queue[started]
        trial = Trial("__fake", config={"point": c["params"]}, stub=True)
        if scheduler is not None:
            scheduler.on_trial_add(None, trial)
        trials[started] = (trial, c, at, TrialResults(c["total_kimg"]))
        heapq.heappush(events, (at + c["records"][0]["t"], started, 0))
        started += 1

    for _ in range(min(workers, len(queue))):
        start(0.0)
    while events:
        now, i, j = heapq.heappop(events)
        trial, c, t0, res = trials[i]
        rec = c["records"][j]
        result = res.result(rec["metrics"], step=rec["step"])
        action = "CONTINUE"
        if scheduler is not None:
            action = scheduler.on_trial_result(None, trial, result)
        last = j == len(c["records"]) - 1
        if action == "STOP" or last:
            key = configuration_key(trial.config)[0]
            done = bool(result.get(BUDGET_KEY)) and action != "STOP"
            states[key] = ("complete" if done else "pruned", result["budget_fraction"])
            if done:
                finals[key] = result
            if scheduler is not None:
                scheduler.on_trial_complete(None, trial, result)
            kimg += result["kimg"]
            seconds += rec["t"]
            if started < len(queue):
                start(now)
        else:
            heapq.heappush(events, (t0 + c["records"][j + 1]["t"], i, j + 1))
    names, modes = spec.metric_names, spec.directions
    refs = [o.ref for o in spec.objectives]
    keys = sorted(finals)
    pts = np.array([[finals[k][m] for m in names] for k in keys]).reshape(len(keys), len(names))
    hv = hypervolume(pts, modes, refs) if keys else 0.0
    from ambientsweep.analysis.pareto import non_dominated_mask

    front = [k for k, on in zip(keys, non_dominated_mask(pts, modes), strict=True) if on]
    return Outcome(states, kimg, seconds, now, hv, front)


def _seed_curves(data: dict[str, Any]) -> dict[int, list[dict[str, Any]]]:
    out: dict[int, list[dict[str, Any]]] = {}
    for c in data["curves"]:
        out.setdefault(c["seed"], []).append(c)
    for cs in out.values():  # the grid's order (Ray runs grid points in order)
        cs.sort(key=lambda c: (c["params"]["data.train_size"], c["params"]["train.lr"]))
    return out


def table(data: dict[str, Any], workers: int, settings: list[tuple[float, int]],
          orders: int) -> None:
    by_seed = _seed_curves(data)
    print(f"workers {workers}; seeds {sorted(by_seed)}; {len(next(iter(by_seed.values())))} "
          "configurations per seed; hypervolume and compute relative to the full grid of the "
          "same seed; grid order (and the mean over random orders where given)")
    print("| scheduler | grace | η | seed | complete | HV | HV / grid | kimg / grid | "
          "trial s / grid | makespan / grid |" + (" HV / grid, random orders |"
                                                  if orders else ""))
    print("|---|---|---|---|---|---|---|---|---|---|" + ("---|" if orders else ""))
    summary: dict[tuple[str, float, int], list[tuple[float, float, float]]] = {}
    for seed, curves in sorted(by_seed.items()):
        grid = replay(curves, None, grace=0.5, eta=2, workers=workers)
        n_grid = sum(s == "complete" for s, _ in grid.states.values())
        print(f"| grid | | | {seed} | {n_grid} ({len(grid.front)} on the front) | "
              f"{grid.hypervolume:.4g} | 1 | 1 | 1 | 1 |" + (" |" if orders else ""))
        for grace, eta in settings:
            for name in ("asha", "moasha"):
                o = replay(curves, SCHEDULERS[name], grace=grace, eta=eta, workers=workers)
                rnd = ""
                if orders:
                    rng = random.Random(seed)
                    hvs = []
                    for _ in range(orders):
                        perm = list(range(len(curves)))
                        rng.shuffle(perm)
                        r = replay(curves, SCHEDULERS[name], grace=grace, eta=eta,
                                   workers=workers, order=perm)
                        hvs.append(r.hypervolume / grid.hypervolume)
                    rnd = f" {np.mean(hvs):.2f} ± {np.std(hvs):.2f} |"
                n_done = sum(s == "complete" for s, _ in o.states.values())
                rel = (o.hypervolume / grid.hypervolume, o.kimg / grid.kimg,
                       o.trial_seconds / grid.trial_seconds)
                summary.setdefault((name, grace, eta), []).append(rel)
                print(f"| {name} | {grace:.3g} | {eta} | {seed} | {n_done} | "
                      f"{o.hypervolume:.4g} | {rel[0]:.2f} | {rel[1]:.2f} | {rel[2]:.2f} | "
                      f"{o.makespan / grid.makespan:.2f} |{rnd}")
    print()
    print("| scheduler | grace | η | HV / grid (mean ± sd over seeds) | kimg / grid | "
          "trial s / grid |")
    print("|---|---|---|---|---|---|")
    for (name, grace, eta), rels in summary.items():
        a = np.array(rels)
        print(f"| {name} | {grace:.3g} | {eta} | {a[:, 0].mean():.2f} ± {a[:, 0].std():.2f} | "
              f"{a[:, 1].mean():.2f} ± {a[:, 1].std():.2f} | "
              f"{a[:, 2].mean():.2f} ± {a[:, 2].std():.2f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=Path, default=CURVES)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--orders", type=int, default=0, help="random trial orders per seed")
    args = ap.parse_args()
    data = json.loads(args.curves.read_text())
    table(data, args.workers, [(1 / 9, 3), (1 / 9, 2), (2 / 9, 2)], args.orders)


if __name__ == "__main__":
    main()
