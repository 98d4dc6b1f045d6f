"""bench/gpu.sh --dry-run: the GPU benchmark's code on the CPU, so it is not broken the day a
GPU is lent (the real run needs one; see BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GPU_SH = ROOT / "bench" / "gpu.sh"
sys.path.insert(0, str(ROOT / "bench"))


def _run(args: list[str], out: Path, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "OUT": str(out), "PYTHON": sys.executable,
           "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    return subprocess.run(["bash", str(GPU_SH), *args], capture_output=True, text=True,
                          env=env, timeout=timeout, cwd=ROOT)


def test_dry_run_writes_json_and_table(tmp_path: Path) -> None:
    proc = _run(["--dry-run", "--skip", "ray_cli"], tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert doc["meta"]["dry_run"] is True and doc["meta"]["device"] == "cpu"
    # the core ran without the packages the GPU machines lack
    assert doc["meta"]["heavy_modules_in_core"] == []
    rows = doc["rows"]
    assert not [r for r in rows if "FAILED" in r["note"] or "skipped" in r["note"]], rows
    by = {(r["section"], r["case"]): r for r in rows}

    trial = by["trial", "digits 0.064 kimg + eval"]
    assert trial["wall_s"] > 0 and trial["fd"] is not None
    assert doc["sections"]["trial"]["tags"]["device"] == "cpu"
    assert "budget_complete" in doc["sections"]["trial"]["metrics"]

    knn = [r for r in rows if r["section"] == "knn"]
    assert len(knn) == 1 and knn[0]["note"] == "exact" and knn[0]["seconds"] > 0

    timed = [r for r in rows if r["section"] in ("precision", "compile")]
    assert sorted(r["case"] for r in timed) == sorted(
        f"{net} {mode}" for net in ("digits", "cifar32")
        for mode in ("fp32", "bf16", "bf16 compile"))
    for r in timed:
        assert r["images_per_s"] > 0 and r["ms_per_step"] > 0, r
    for case in doc["sections"]["precision"] + doc["sections"]["compile"]:
        assert case["images_timed"] > 0 and not case["finished"]  # stopped by its window

    packing = doc["sections"]["packing"]["rounds"]
    assert [p["trials"] for p in packing] == [1, 2]
    for p in packing:
        assert len(p["per_trial_images_per_s"]) == p["trials"]
        assert p["window_s"] > 0 and p["aggregate_images_per_s"] > 0
    assert by["packing", "1 trials x digits fp32"]["x_vs_1"] == pytest.approx(1.0)

    table = (tmp_path / "gpu_bench.md").read_text()
    assert "DRY RUN" in table
    lines = [line for line in table.splitlines() if line.startswith("| ")]
    assert len(lines) == 1 + len(rows)  # header + one line per row
    assert "| packing | 2 trials x digits fp32 |" in table
    assert table.strip() in proc.stdout  # the one table, printed
    assert (tmp_path / "gpu_bench.log").read_text().strip() == proc.stdout.strip()
    # only the results land in $OUT (the device tool brings back 8 files at most)
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "gpu_bench.json", "gpu_bench.log", "gpu_bench.md"]


def test_bad_section_and_missing_gpu_are_usage_errors(tmp_path: Path) -> None:
    proc = _run(["--dry-run", "--only", "nope"], tmp_path)
    # (with $OUT set, gpu.sh tees both streams into gpu_bench.log and stdout)
    assert proc.returncode == 2 and "unknown section 'nope'" in proc.stdout + proc.stderr
    import torch

    if not torch.cuda.is_available():
        proc = _run([], tmp_path)
        assert proc.returncode == 2 and "no CUDA device" in proc.stdout + proc.stderr


def test_rates_and_common_window() -> None:
    import gpu_work

    stamps = [(0.0, 0), (1.0, 100), (2.0, 300), (3.0, 500), (4.0, 700)]
    # the first interval (warm-up) is left out: (700 - 100) / (4 - 1)
    assert gpu_work.steady_rate(stamps) == (200.0, 600)
    assert gpu_work.steady_rate(stamps, 2.0, 3.0) == (200.0, 200)
    assert gpu_work.steady_rate(stamps, 3.5, 9.0) == (None, 0)
    other = [(0.5, 0), (1.5, 50), (3.5, 250)]
    assert gpu_work.common_window([stamps, other]) == (1.5, 3.5)


@pytest.mark.e2e
def test_dry_run_ray_cli_part(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    proc = _run(["--dry-run", "--only", "ray_cli"], tmp_path, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    doc = json.loads((tmp_path / "gpu_bench.json").read_text())
    ray = doc["sections"]["ray_cli"]
    assert ray["rc"] == 0, ray["tail"]
    assert ray["gpu_per_trial"] == 0.0  # no GPU on the CPU dry run
