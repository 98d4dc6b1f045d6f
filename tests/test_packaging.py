"""The wheel carries what the package reads at run time (the dashboard template, the shipped
feature extractor)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

from ambientsweep.analysis.dashboard import TEMPLATE
from ambientsweep.metrics.extractor_files import SHIPPED_DIGITS_CNN

ROOT = Path(__file__).resolve().parents[1]


def test_template_is_the_dashboards_file() -> None:
    assert TEMPLATE.read_bytes() == (ROOT / "dashboards" / "pareto.template.html").read_bytes()


def test_wheel_contains_the_dashboard_template(tmp_path: Path) -> None:
    # Build from a copy: setuptools writes build/ and *.egg-info next to the sources.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    for part in ("ambientsweep", "dashboards"):
        shutil.copytree(ROOT / part, src / part, symlinks=True, ignore=ignore)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, src / part)
    res = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-build-isolation",
                          "--no-deps", str(src), "-w", str(tmp_path / "dist")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    (wheel,) = (tmp_path / "dist").glob("ambientsweep-*.whl")
    with zipfile.ZipFile(wheel) as z:
        data = z.read("ambientsweep/analysis/templates/pareto.template.html")
        extractor = z.read("ambientsweep/metrics/data/digits_cnn_default.pt")
    assert data == TEMPLATE.read_bytes()
    assert extractor == SHIPPED_DIGITS_CNN.path.read_bytes()  # the shipped feature CNN
