"""Evaluation share and memory of a default trial; peak memory of the sweep driver.

1. One trial of the default sweep (sweeps/sfbd_clean_fraction.yaml, clean fraction 0.1) runs
   through `run_trial` in a child process with 1 thread: the share of its wall time spent
   sampling and computing metrics (all evaluations: after pretraining, after each round,
   final), and the child's peak resident memory.
2. `ambientsweep run` on a one-trial sweep: the driver process's peak resident memory
   (sampled every 0.1 s), Ray's daemons and workers not included.

    .venv/bin/python bench/eval_and_memory.py
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = textwrap.dedent("""\
    import json, sys, resource, torch
    from pathlib import Path
    from ambientsweep.spec import load_sweep
    from ambientsweep.trial import run_trial
    from ambientsweep.tracking.reporter import ListReporter
    torch.set_num_threads(1)
    loaded = load_sweep(sys.argv[1])
    cfg = loaded.trial_config({"method.clean_fraction": 0.1})
    res = run_trial(cfg, ListReporter(), Path(sys.argv[2]) / "t", cache_dir=Path(sys.argv[2]))
    print(json.dumps({k: res.metrics[k] for k in ("trial_seconds", "eval_seconds")}))
""")


def trial_share(tmp: Path) -> dict[str, float]:
    out = subprocess.run([sys.executable, "-c", CHILD, str(ROOT / "sweeps" /
                                                          "sfbd_clean_fraction.yaml"),
                          str(tmp)], capture_output=True, text=True, check=True)
    m = json.loads(out.stdout.strip().splitlines()[-1])
    m["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    return m


def driver_peak(tmp: Path) -> tuple[float, float]:
    (tmp / "base.yaml").write_text(textwrap.dedent("""\
        data: {name: digits, train_size: 200}
        train: {kimg: 6.4}
        method: {kind: edm}
    """))
    (tmp / "s.yaml").write_text(textwrap.dedent("""\
        name: mem
        base: base.yaml
        space: {train.lr: {grid: [0.001]}}
        objectives: [{metric: fd_digits_cnn}, {metric: mem_ratio_pixels}]
    """))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "ambientsweep", "run", str(tmp / "s.yaml"),
                             "--workdir", str(tmp / "runs")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    peak_kb = 0
    while proc.poll() is None:
        peak_kb = max(peak_kb, _rss_kb(proc.pid))
        time.sleep(0.1)
    if proc.returncode != 0:
        sys.exit("the sweep failed")
    return peak_kb / 1024, time.perf_counter() - t0


def _rss_kb(pid: int) -> int:
    """Resident set size of a process from /proc (Linux), 0 once it is gone."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def main() -> None:
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        m = trial_share(tmp)
        drv, secs = driver_peak(tmp)
    share = m["eval_seconds"] / m["trial_seconds"]
    print("default trial (sfbd_clean_fraction, clean fraction 0.1, 1 thread):")
    print(f"  wall {m['trial_seconds']:.1f} s, evaluation {m['eval_seconds']:.1f} s "
          f"-> evaluation share {share:.1%} (target <= 20%)")
    print(f"  peak RSS of the trial process: {m['peak_rss_mb']:.0f} MB")
    print(f"driver (`ambientsweep run`, one short trial, {secs:.0f} s): peak RSS {drv:.0f} MB")


if __name__ == "__main__":
    main()
