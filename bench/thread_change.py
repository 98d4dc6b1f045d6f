"""Does a mid-trial thread change (what `resources.fill_idle` does) move a trial's metrics?

One trial of the default sweep (sweeps/sfbd_clean_fraction.yaml at clean_fraction 0.1), run
three times through `run_trial` in three fresh processes at once: on 1 torch thread, again on
1 thread (reruns must be bitwise identical), and on 1 thread raised to 2 at the first report
past half its budget (the report boundary where fill_idle's trial raises its threads).
Printed: each final metric of the three runs and the relative change 1 -> 1+2 threads.

    .venv/bin/python bench/thread_change.py [--point 0.1]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SWEEP = ROOT / "sweeps" / "sfbd_clean_fraction.yaml"
SHOWN = ("fd_digits_cnn", "fd_pixels", "mem_ratio_pixels", "psnr_denoised", "loss")


def _one(args: tuple[float, bool, str]) -> dict[str, float]:
    point, switch, workdir = args
    import torch

    from ambientsweep.spec.load import load_sweep
    from ambientsweep.tracking.reporter import ListReporter
    from ambientsweep.trial import run_trial

    loaded = load_sweep(SWEEP).with_overrides({"train.num_threads": 1})
    cfg = loaded.trial_config({"method.clean_fraction": point}, 0)
    half = cfg.total_kimg * 1000 / 2

    class Switching(ListReporter):
        def report(self, metrics: dict[str, float], *, step: int) -> None:
            if switch and step >= half and torch.get_num_threads() == 1:
                torch.set_num_threads(2)
            super().report(metrics, step=step)

    rep = Switching()
    t0 = time.perf_counter()
    run_trial(cfg, rep, Path(workdir), cache_dir=Path(workdir) / "cache")  # own cache each
    final: dict[str, float] = {"seconds": time.perf_counter() - t0}
    for _, m in rep.records:
        final.update({k: float(v) for k, v in m.items() if isinstance(v, int | float)})
    return final


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--point", type=float, default=0.1, help="method.clean_fraction")
    a = ap.parse_args()
    with tempfile.TemporaryDirectory() as d:
        runs = [(a.point, False, f"{d}/one"), (a.point, False, f"{d}/again"),
                (a.point, True, f"{d}/switch")]
        with mp.get_context("spawn").Pool(3) as pool:
            one, again, switch = pool.map(_one, runs)
    keys = [k for k in SHOWN if k in one]
    print(f"one trial of {SWEEP.name} (clean_fraction {a.point}), final metrics")
    print(f"{'metric':18s} {'1 thread':>12s} {'1 again':>12s} {'1->2 threads':>13s} "
          f"{'rel. change':>12s}")
    for k in keys:
        rel = abs(switch[k] - one[k]) / max(abs(one[k]), 1e-12)
        print(f"{k:18s} {one[k]:12.6g} {again[k]:12.6g} {switch[k]:13.6g} {rel:12.2%}")
    same = all(one[k] == again[k] for k in keys)
    print(f"reruns on 1 thread bitwise identical: {same}")
    print(json.dumps({"one": one, "again": again, "switch": switch}))


if __name__ == "__main__":
    main()
