"""Platform overhead: the same trials through `ambientsweep run` and through a plain loop.

Both sides run the same 4 trials (the default digits EDM config, shortened to about a minute
each) with the same parallelism: 2 trials at a time, 1 torch thread each — the sweep through
Ray Tune (2 CPUs, 1 CPU per trial), the loop through a 2-process pool calling
`run_trial` directly. A third line runs the loop sequentially with 2 threads for reference.
Printed: wall times, the ratio sweep / loop, and the fixed start-up cost of Ray + MLflow.

    .venv/bin/python bench/overhead.py [--kimg 64] [--trials 4]
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _base(kimg: float) -> str:
    return textwrap.dedent(f"""\
        data: {{name: digits, train_size: 200}}
        train: {{kimg: {kimg}}}
        eval: {{num_samples: 500}}
        method: {{kind: edm}}
    """)


def _lrs(n: int) -> list[float]:
    return [round(1e-3 * (1 + 0.1 * i), 6) for i in range(n)]


def _one(args: tuple[str, float, int, str]) -> float:
    base_text, lr, threads, workdir = args
    import torch
    import yaml

    from ambientsweep.config import TrialConfig
    from ambientsweep.tracking.reporter import ListReporter
    from ambientsweep.trial import run_trial

    torch.set_num_threads(threads)
    cfg = yaml.safe_load(base_text)
    cfg["train"]["lr"] = lr
    cfg["train"]["num_threads"] = threads
    config = TrialConfig.model_validate(cfg)
    t0 = time.perf_counter()
    run_trial(config, ListReporter(), Path(workdir) / f"lr{lr}", cache_dir=Path(workdir) / "c")
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kimg", type=float, default=64.0)
    ap.add_argument("--trials", type=int, default=4)
    a = ap.parse_args()
    base = _base(a.kimg)
    lrs = _lrs(a.trials)
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        (tmp / "base.yaml").write_text(base)
        (tmp / "sweep.yaml").write_text(textwrap.dedent(f"""\
            name: overhead
            base: base.yaml
            space:
              train.lr: {{grid: {lrs}}}
            objectives:
              - {{metric: fd_digits_cnn}}
              - {{metric: mem_ratio_pixels}}
            resources: {{cpu: 1}}
        """))
        # Warm the shared feature-classifier cache for both sides alike.
        _one((base.replace(f"kimg: {a.kimg}", "kimg: 0.064"), 1e-3, 2, str(tmp / "warm")))
        cache = tmp / "warm" / "c"

        import shutil

        # Every side starts with the same warm feature-classifier cache.
        shutil.copytree(cache, tmp / "runs" / "cache", dirs_exist_ok=True)
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "ambientsweep", "run", str(tmp / "sweep.yaml"),
                              "--workdir", str(tmp / "runs")], capture_output=True, text=True)
        sweep_s = time.perf_counter() - t0
        if res.returncode != 0:
            sys.exit(res.stdout + res.stderr)
        shutil.copytree(cache, tmp / "loop" / "c", dirs_exist_ok=True)
        shutil.copytree(cache, tmp / "seq" / "c", dirs_exist_ok=True)
        t0 = time.perf_counter()
        with mp.get_context("spawn").Pool(2) as pool:
            per = pool.map(_one, [(base, lr, 1, str(tmp / "loop")) for lr in lrs])
        loop_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        for lr in lrs:
            _one((base, lr, 2, str(tmp / "seq")))
        seq_s = time.perf_counter() - t0

        # Fixed cost: a sweep of one trivially short trial.
        (tmp / "base2.yaml").write_text(_base(0.064))
        (tmp / "tiny.yaml").write_text((tmp / "sweep.yaml").read_text()
                                       .replace("name: overhead", "name: fixed")
                                       .replace("base.yaml", "base2.yaml")
                                       .replace(str(lrs), "[0.001]"))
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-m", "ambientsweep", "run", str(tmp / "tiny.yaml"),
                        "--workdir", str(tmp / "runs")], capture_output=True, check=True)
        fixed_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        _one((_base(0.064), 1e-3, 2, str(tmp / "seq")))
        bare_s = time.perf_counter() - t0

    print(f"{a.trials} trials of the default digits EDM config at {a.kimg:g} kimg "
          f"(trial alone in the pool: median {sorted(per)[len(per) // 2]:.1f} s)")
    print(f"{'configuration':58s} {'wall s':>8s}")
    print(f"{'ambientsweep run (Ray: 2 CPUs, 1 CPU + 1 thread per trial)':58s} {sweep_s:8.1f}")
    print(f"{'plain loop, 2-process pool, 1 thread each':58s} {loop_s:8.1f}")
    print(f"{'plain loop, sequential, 2 threads':58s} {seq_s:8.1f}")
    print(f"ratio sweep / pool loop: {sweep_s / loop_s:.3f}   (target <= 1.10)")
    print(f"fixed cost (one 1-step trial: sweep {fixed_s:.1f} s vs run_trial {bare_s:.1f} s): "
          f"{fixed_s - bare_s:.1f} s")


if __name__ == "__main__":
    main()
