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
    from ambientsweep.spec.load import grid_points, load_sweep

    order = [json.dumps(p, sort_keys=True) for p in grid_points(load_sweep(SWEEP).spec)]
    for cs in out.values():  # the grid's order (Ray runs grid points in order)
        cs.sort(key=lambda c: order.index(json.dumps(c["params"], sort_keys=True)))
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


def live_run(name: str, es: dict[str, Any], grace: float, eta: int, seed: int,
             workdir: Path, cache: Path,
             sizes: list[int] | None) -> tuple[dict[str, tuple[str, float]], float]:
    """`ambientsweep run` of the benchmark sweep at one seed with this scheduler, one trial at
    a time (so the order is the grid's, as in a one-worker replay); its outcome per
    configuration from Ray's own results, and its wall time."""
    import os
    import subprocess
    import sys
    import time

    import yaml
    from ray.tune import ExperimentAnalysis

    from ambientsweep.search.moasha import configuration_key

    spec = yaml.safe_load(SWEEP.read_text())
    spec.update(name=f"bench_moasha_live_{name}", base=str(ROOT / "configs" / "digits.yaml"),
                seed=seed, early_stopping={**es, "grace_fraction": grace,
                                           "reduction_factor": eta})
    spec["search"] = {"algorithm": "grid", "max_concurrent": 1}
    if sizes:
        spec["space"]["data.train_size"] = {"grid": sizes}
    workdir.mkdir(parents=True, exist_ok=True)
    path = workdir / f"{name}.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "ambientsweep", "run", str(path), "--workdir",
                          str(workdir)], capture_output=True, text=True,
                         env={**os.environ, "AMBIENTSWEEP_CACHE": str(cache)})
    wall = time.perf_counter() - t0
    if res.returncode != 0:
        raise SystemExit(f"live {name} sweep failed ({res.returncode}):\n{res.stdout}"
                         f"\n{res.stderr}")
    ea = ExperimentAnalysis(str(workdir / "sweeps" / spec["name"] / "ray" / "tune"))
    out = {}
    for t in ea.trials:
        r = t.last_result
        key = configuration_key(t.config)[0]
        out[key] = ("complete" if r.get("budget_complete") else "pruned",
                    float(r["budget_fraction"]))
    return out, wall


def compare_live(data: dict[str, Any], seed: int, workdir: Path, cache: Path, grace: float,
                 eta: int, sizes: list[int] | None) -> None:
    from ambientsweep.search.moasha import configuration_key

    curves = [c for c in _seed_curves(data)[seed]
              if not sizes or c["params"]["data.train_size"] in sizes]
    print(f"live sweeps vs one-worker replay, seed {seed}, grace {grace:.3g}, η {eta}")
    print("| scheduler | configurations | same outcome (state and stop fraction) | "
          "complete live / replay | trained kimg live / replay | live wall s |")
    print("|---|---|---|---|---|---|")
    for name in ("asha", "moasha"):
        es = SCHEDULERS[name]
        assert es is not None
        got, wall = live_run(name, es, grace, eta, seed, workdir / name, cache, sizes)
        want = replay(curves, es, grace=grace, eta=eta, workers=1).states
        same = [k for k in want if k in got and got[k][0] == want[k][0]
                and abs(got[k][1] - want[k][1]) < 1e-6]
        for k in sorted(set(want) | set(got)):
            if k not in same:
                print(f"  differs: {k}: live {got.get(k)} replay {want.get(k)}")
        total = {configuration_key({"point": c["params"]})[0]: c["total_kimg"] for c in curves}
        kimg_live = sum(got[k][1] * total[k] for k in total if k in got)
        kimg_replay = sum(want[k][1] * total[k] for k in total)
        n_live = sum(s == "complete" for s, _ in got.values())
        n_rep = sum(s == "complete" for s, _ in want.values())
        print(f"| {name} | {len(want)} | {len(same)}/{len(want)} | {n_live} / {n_rep} | "
              f"{kimg_live:.1f} / {kimg_replay:.1f} | {wall:.0f} |")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--curves", type=Path, default=CURVES)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--orders", type=int, default=0, help="random trial orders per seed")
    ap.add_argument("--live-dir", type=Path, default=None,
                    help="also run each scheduler live (ambientsweep run, seed --live-seed) "
                         "in this work dir and compare with the replay")
    ap.add_argument("--live-seed", type=int, default=0)
    ap.add_argument("--live-sizes", type=int, nargs="*", default=None,
                    help="only these data.train_size values in the live runs (and their replay)")
    ap.add_argument("--cache", type=Path, default=Path("/tmp/ambientsweep-bench-cache"),
                    help="the feature cache the curves were recorded with")
    args = ap.parse_args()
    data = json.loads(args.curves.read_text())
    if args.live_dir is not None:
        compare_live(data, args.live_seed, args.live_dir, args.cache, 1 / 9, 3,
                     args.live_sizes)
        return
    table(data, args.workers, [(1 / 9, 4), (1 / 9, 3), (1 / 9, 2), (2 / 9, 2)],
          args.orders)


if __name__ == "__main__":
    main()
