"""Fixed cost of a sweep: a one-trial `ambientsweep run` against `run_trial` alone.

Both sides run the same tiny trial (the default digits EDM config at 0.064 kimg, one torch
thread) in a fresh Python process each, so both pay their own imports (torch above all); the
feature-classifier cache is warmed first and shared. The difference is what the platform adds
per sweep: CLI imports, Ray start, the worker's imports, the MLflow store, the exports.
`--tree DIR` runs the code of another checkout (e.g. `--tree /work/main` for "before"), each
tree in its own fresh work dir; `--repeat` takes the fastest of N (the machine is shared).

    .venv/bin/python bench/startup.py [--tree DIR ...] [--repeat 2]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BASE = textwrap.dedent("""\
    data: {name: digits, train_size: 200}
    train: {kimg: 0.064, num_threads: 1}
    eval: {num_samples: 500}
    method: {kind: edm}
""")
SWEEP = textwrap.dedent("""\
    name: {name}
    base: base.yaml
    space:
      train.lr: {{grid: [0.001]}}
    objectives:
      - {{metric: fd_digits_cnn}}
      - {{metric: mem_ratio_pixels}}
    resources: {{cpu: 1}}
""")
ALONE = textwrap.dedent("""\
    import sys, yaml
    from pathlib import Path
    from ambientsweep.config import TrialConfig
    from ambientsweep.tracking.reporter import ListReporter
    from ambientsweep.trial import run_trial
    cfg = TrialConfig.model_validate(yaml.safe_load(Path(sys.argv[1]).read_text()))
    run_trial(cfg, ListReporter(), Path(sys.argv[2]), cache_dir=Path(sys.argv[3]))
""")


def _timed(cmd: list[str], tree: Path, cwd: Path) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    t0 = time.perf_counter()
    res = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - t0
    if res.returncode != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{res.stdout}\n{res.stderr}")
    return seconds


def measure(tree: Path, tmp: Path, repeat: int) -> dict[str, float]:
    """Fastest of `repeat` for: --help, run_trial alone, a one-trial sweep."""
    (tmp / "base.yaml").write_text(BASE)
    py = sys.executable
    cache = tmp / "cache"
    if not cache.is_dir():  # warm the feature-classifier cache once, for every side alike
        _timed([py, "-c", ALONE, str(tmp / "base.yaml"), str(tmp / "warm"), str(cache)],
               tree, tmp)
        cache.mkdir(exist_ok=True)  # the shipped extractor may leave nothing to cache
    out: dict[str, list[float]] = {"help": [], "alone": [], "sweep": []}
    for i in range(repeat):
        out["help"].append(_timed([py, "-m", "ambientsweep", "--help"], tree, tmp))
        out["alone"].append(_timed([py, "-c", ALONE, str(tmp / "base.yaml"),
                                    str(tmp / f"alone{i}"), str(cache)], tree, tmp))
        work = tmp / f"runs-{tree.name}-{i}"
        shutil.copytree(cache, work / "cache", dirs_exist_ok=True)
        (tmp / f"s{i}.yaml").write_text(SWEEP.format(name=f"fixed{i}"))
        out["sweep"].append(_timed([py, "-m", "ambientsweep", "run", str(tmp / f"s{i}.yaml"),
                                    "--workdir", str(work)], tree, tmp))
    return {k: min(v) for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tree", type=Path, action="append",
                    help="checkout whose code runs (repeat; default: this one)")
    ap.add_argument("--repeat", type=int, default=2)
    a = ap.parse_args()
    trees = [t.resolve() for t in a.tree or [ROOT]]
    rows = []
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        for tree in trees:
            rows.append((tree, measure(tree, tmp, a.repeat)))
    print(f"fixed cost of a one-trial sweep (fastest of {a.repeat}; load average "
          f"{os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs)")
    print(f"{'code':32s} {'--help s':>9s} {'run_trial s':>12s} {'sweep s':>8s} {'fixed s':>8s}")
    for tree, r in rows:
        print(f"{str(tree)[-32:]:32s} {r['help']:9.1f} {r['alone']:12.1f} {r['sweep']:8.1f} "
              f"{r['sweep'] - r['alone']:8.1f}")
    print("target: fixed <= 10 s")


if __name__ == "__main__":
    main()
