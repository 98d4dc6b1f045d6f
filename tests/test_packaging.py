"""The sdist, and the wheel built from it, carry what the package reads at run time: the
dashboard template as the full HTML file, and the shipped feature extractor.

The template is a real file inside the package (``ambientsweep/analysis/templates``);
``dashboards/pareto.template.html`` is only a link to it for people browsing the repository.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from ambientsweep.analysis.dashboard import TEMPLATE
from ambientsweep.metrics.extractor_files import SHIPPED_DIGITS_CNN

ROOT = Path(__file__).resolve().parents[1]
MEMBER = "ambientsweep/analysis/templates/pareto.template.html"


def test_template_is_a_real_file_in_the_package() -> None:
    assert not TEMPLATE.is_symlink()
    text = TEMPLATE.read_text(encoding="utf-8")
    assert text.lstrip().startswith("<!DOCTYPE html>") and "${plotly_js}" in text
    # The repository's dashboards/ folder points at the package's file, not the other way.
    link = ROOT / "dashboards" / "pareto.template.html"
    assert link.read_bytes() == TEMPLATE.read_bytes()


def test_sdist_and_wheel_from_the_sdist_carry_the_template(tmp_path: Path) -> None:
    pytest.importorskip("build", reason="the dev extra's `build` package (pip install build)")
    # Build from a copy of the package alone (setuptools writes build/ and *.egg-info next to
    # the sources): without dashboards/ beside it, the package's own file must be enough.
    src = tmp_path / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info")
    shutil.copytree(ROOT / "ambientsweep", src / "ambientsweep", symlinks=True, ignore=ignore)
    for part in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / part, src / part)
    dist = tmp_path / "dist"
    # `python -m build` with no --sdist/--wheel builds the sdist, then the wheel from it.
    res = subprocess.run([sys.executable, "-m", "build", "--no-isolation", "--outdir",
                          str(dist), str(src)], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    want = TEMPLATE.read_bytes()
    (sdist,) = dist.glob("ambientsweep-*.tar.gz")
    with tarfile.open(sdist) as tar:
        (info,) = [m for m in tar.getmembers() if m.name.endswith("/" + MEMBER)]
        assert info.isfile() and not info.issym()
        data = tar.extractfile(info)
        assert data is not None and data.read() == want
    (wheel,) = dist.glob("ambientsweep-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert z.read(MEMBER) == want
        extractor = z.read("ambientsweep/metrics/data/digits_cnn_default.pt")
    assert extractor == SHIPPED_DIGITS_CNN.path.read_bytes()  # the shipped feature CNN
