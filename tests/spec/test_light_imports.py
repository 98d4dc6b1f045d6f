"""`ambientsweep validate` stays light: it imports neither torch nor ray (nor mlflow)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, sys
from ambientsweep.cli import app
try:
    app(["validate", *sys.argv[1:]], standalone_mode=False)
finally:
    print(json.dumps({m: m in sys.modules for m in ("torch", "ray", "mlflow", "optuna")}))
"""


def test_validate_imports_neither_torch_nor_ray() -> None:
    sweeps = [str(ROOT / "sweeps" / f) for f in ("repro_sfbd.yaml", "repro_ambient.yaml",
                                                  "tn_cutoff.yaml")]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    out = subprocess.run([sys.executable, "-c", PROBE, *sweeps], capture_output=True,
                         text=True, env=env, cwd=ROOT, timeout=120)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert sum(line.startswith("ok  ") for line in lines) == 3, out.stdout
    loaded = json.loads(lines[-1])
    assert loaded == {"torch": False, "ray": False, "mlflow": False, "optuna": False}, loaded
