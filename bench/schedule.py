"""Sweep wall time against the same-parallelism loop and the best schedule, as ratios.

For each case, in one run: the sweep through `ambientsweep run` (2 slots: 1 CPU + 1 thread a
trial; again with `resources.fill_idle: true` under `--fill-idle`), the same trials through a
2-process pool calling `run_trial` on 1 thread each (the hand-written loop), and one trial
alone on 1 and on 2 threads (the 2-thread speed-up). The best schedule packs the trials,
longest first, into waves of 2 one-thread trials and runs a leftover trial on 2 threads:
sum of each full wave's longest trial + the leftover's time / speed-up. Fixed cost (start-up,
exports) is not counted: the sweep's wall time minus its fixed cost (a one-trial sweep of a
trivial trial minus that trial alone, bench/startup.py) is what is compared.

Cases: `default` is sweeps/sfbd_clean_fraction.yaml (5 trials of ~70 s); `replicates` is
3 configurations x 3 replicates of the digits EDM config at --kimg (trials of ~20-30 s).

    .venv/bin/python bench/schedule.py [--case default --case replicates] [--fill-idle]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SLOTS = 2


def _replicates_sweep(tmp: Path, kimg: float) -> Path:
    (tmp / "rep_base.yaml").write_text(textwrap.dedent(f"""\
        data: {{name: digits, train_size: 200}}
        train: {{kimg: {kimg}}}
        eval: {{num_samples: 500}}
        method: {{kind: edm}}
    """))
    path = tmp / "replicates.yaml"
    path.write_text(textwrap.dedent("""\
        name: replicates
        base: rep_base.yaml
        space:
          train.lr: {grid: [0.001, 0.0015, 0.002]}
        objectives:
          - {metric: fd_digits_cnn}
          - {metric: mem_ratio_pixels}
        replicates: 3
        resources: {cpu: 1}
    """))
    return path


def _configs(sweep: Path) -> list[Any]:
    from ambientsweep.spec.load import grid_points, load_sweep

    loaded = load_sweep(sweep).with_overrides({"train.num_threads": 1})
    return [loaded.trial_config(p, r) for p in grid_points(loaded.spec)
            for r in range(loaded.spec.replicates)]


def _one(args: tuple[Any, int, str]) -> float:
    cfg, threads, workdir = args
    import torch

    from ambientsweep.tracking.reporter import ListReporter
    from ambientsweep.trial import run_trial

    torch.set_num_threads(threads)
    cfg = cfg.model_copy(update={"train": cfg.train.model_copy(update={"num_threads": threads})})
    t0 = time.perf_counter()
    run_trial(cfg, ListReporter(), Path(workdir), cache_dir=Path(workdir).parent / "cache")
    return time.perf_counter() - t0


def best_schedule(times: list[float], speedup: float, slots: int = SLOTS) -> float:
    """Waves of `slots` one-thread trials (longest first); a leftover trial alone on all
    slots' threads at `speedup` (a leftover of several: one wave of 1-thread trials)."""
    t = sorted(times, reverse=True)
    full, rest = divmod(len(t), slots)
    total = sum(t[i * slots] for i in range(full))
    left = t[full * slots:]
    if rest == 1:
        total += left[0] / speedup
    elif rest > 1:
        total += left[0]
    return total


def _with_fill(sweep: Path, tmp: Path) -> Path:
    """A copy of the sweep file with `resources.fill_idle: true` (its base config path made
    absolute, found as the original's)."""
    import yaml

    from ambientsweep.spec.load import load_sweep

    doc = yaml.safe_load(sweep.read_text())
    doc["name"] = "fill-" + doc["name"]
    doc.setdefault("resources", {})["fill_idle"] = True
    doc["base"] = str(load_sweep(sweep).base_path)
    out = tmp / (sweep.stem + "_fill.yaml")
    out.write_text(yaml.safe_dump(doc, sort_keys=False))
    return out


def _sweep(sweep: Path, work: Path, cache: Path, fill: bool) -> float:
    if fill:
        sweep = _with_fill(sweep, work.parent)
    if cache.is_dir():  # a trained extractor (the shipped digits_cnn needs none)
        shutil.copytree(cache, work / "cache", dirs_exist_ok=True)
    t0 = time.perf_counter()
    res = subprocess.run([sys.executable, "-m", "ambientsweep", "run", str(sweep), "--workdir",
                          str(work)], capture_output=True, text=True, cwd=sweep.parent)
    if res.returncode != 0:
        sys.exit(res.stdout + res.stderr)
    return time.perf_counter() - t0


def _say(msg: str) -> None:
    """Progress on stderr as each part ends (the table comes only at the end)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _raised(work: Path) -> list[str]:
    """The `threads_raised_to` tags of the fill sweep's trial runs (read from its store)."""
    import sqlite3

    from ambientsweep.tracking.tags import TAG_THREADS

    with sqlite3.connect(work / "mlflow.db") as db:
        rows = db.execute("SELECT value FROM tags WHERE key = ?", (TAG_THREADS,)).fetchall()
    return [r[0] for r in rows]


def _warm_cache(cfg: Any, cache: Path) -> None:
    """Train the data's feature CNN into `cache` when its weights are not shipped (the
    sweep, the loop and the single trials then all read it; the shipped one needs nothing)."""
    import torch

    from ambientsweep.data import load_splits
    from ambientsweep.metrics.features import load_or_train_cnn

    splits = load_splits(cfg.data, seed=cfg.seed, replicate=cfg.replicate)
    load_or_train_cnn(splits, cache, torch.device("cpu"))


def run_case(name: str, sweep: Path, tmp: Path, fill: bool, fixed: float) -> dict[str, float]:
    configs = _configs(sweep)
    cache = tmp / name / "cache"
    out: dict[str, float] = {"trials": float(len(configs))}
    _warm_cache(configs[0], cache)
    if fill:  # first: a fill_idle that never acts stops the run before the long parts
        out["sweep_fill"] = _sweep(sweep, tmp / name / "runs-fill", cache, True) - fixed
        raised = _raised(tmp / name / "runs-fill")
        _say(f"{name}: fill_idle sweep {out['sweep_fill']:.1f} s; threads raised to "
             f"{raised or 'none'}")
        if not raised:  # nothing to compare: fill_idle never acted
            sys.exit(f"{name}: no trial of the fill_idle sweep raised its threads")
    out["sweep"] = _sweep(sweep, tmp / name / "runs", cache, False) - fixed
    _say(f"{name}: sweep {out['sweep']:.1f} s (fixed cost taken off)")
    t0 = time.perf_counter()
    with mp.get_context("spawn").Pool(SLOTS) as pool:
        times = pool.map(_one, [(c, 1, str(tmp / name / f"loop{i}"))
                                for i, c in enumerate(configs)])
    out["loop"] = time.perf_counter() - t0
    _say(f"{name}: loop {out['loop']:.1f} s; trials " + " ".join(f"{t:.1f}" for t in times))
    one = _one((configs[0], 1, str(tmp / name / "alone1")))
    two = _one((configs[0], 2, str(tmp / name / "alone2")))
    out["speedup"] = one / two
    _say(f"{name}: one trial alone {one:.1f} s on 1 thread, {two:.1f} s on 2")
    out["best"] = best_schedule(times, out["speedup"])
    out["trial_median"] = sorted(times)[len(times) // 2]
    return out


def _fixed_cost(tmp: Path) -> float:
    res = subprocess.run([sys.executable, str(ROOT / "bench" / "startup.py"), "--repeat", "1"],
                         capture_output=True, text=True)
    if res.returncode != 0:
        sys.exit(res.stdout + res.stderr)
    row = res.stdout.strip().splitlines()[-2].split()
    return float(row[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--case", action="append", choices=["default", "replicates"])
    ap.add_argument("--kimg", type=float, default=24.0, help="replicates case: trial budget")
    ap.add_argument("--fill-idle", action="store_true", help="also the sweep with fill_idle")
    a = ap.parse_args()
    cases = a.case or ["default", "replicates"]
    load0 = os.getloadavg()
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        fixed = _fixed_cost(tmp)
        _say(f"fixed cost {fixed:.1f} s")
        rows = {}
        for c in cases:
            sweep = ROOT / "sweeps" / "sfbd_clean_fraction.yaml" if c == "default" else \
                _replicates_sweep(tmp, a.kimg)
            rows[c] = run_case(c, sweep, tmp, a.fill_idle, fixed)
    print(f"sweep vs loop vs best schedule on {SLOTS} slots (fixed cost {fixed:.1f} s taken "
          f"off the sweep; load average {load0[0]:.2f} before, {os.getloadavg()[0]:.2f} after)")
    print(f"{'case':11s} {'trials':>6s} {'median s':>9s} {'2-thr x':>8s} {'sweep s':>8s} "
          f"{'loop s':>8s} {'best s':>8s} {'sweep/best':>11s} {'loop/best':>10s}"
          + (f" {'fill s':>8s} {'fill/best':>10s}" if a.fill_idle else ""))
    for c, r in rows.items():
        line = (f"{c:11s} {r['trials']:6.0f} {r['trial_median']:9.1f} {r['speedup']:8.2f} "
                f"{r['sweep']:8.1f} {r['loop']:8.1f} {r['best']:8.1f} "
                f"{r['sweep'] / r['best']:11.3f} {r['loop'] / r['best']:10.3f}")
        if a.fill_idle:
            line += f" {r['sweep_fill']:8.1f} {r['sweep_fill'] / r['best']:10.3f}"
        print(line)
    print("target: sweep/best <= 1.05")


if __name__ == "__main__":
    main()
