"""`make bench`: the CPU benchmark set, one after the other, each printing its own table.

    .venv/bin/python bench/run_all.py
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
SCRIPTS = [
    ("trainer step vs hand-written loop", ["trainer_step.py"]),
    ("memorization search and Fréchet distance scaling", ["metrics_scaling.py"]),
    ("evaluation share and memory", ["eval_and_memory.py"]),
    ("platform overhead: ambientsweep run vs plain loop", ["overhead.py"]),
    ("fixed cost: one-trial sweep vs run_trial alone", ["startup.py"]),
    ("sweep vs loop vs best schedule (ratios)", ["schedule.py", "--fill-idle"]),
    ("a mid-trial thread change and the metrics", ["thread_change.py"]),
]


def main() -> None:
    t0 = time.perf_counter()
    for title, cmd in SCRIPTS:
        print(f"\n=== {title} ({' '.join(cmd)})", flush=True)
        subprocess.run([sys.executable, str(HERE / cmd[0]), *cmd[1:]], check=True)
    print(f"\nbench total: {(time.perf_counter() - t0) / 60:.1f} min")


if __name__ == "__main__":
    main()
