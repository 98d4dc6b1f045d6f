"""Hand-made results tables with the contract's columns (docs/contracts.md, "Results table").

Two sweeps shaped like the real ones: SFBD over the clean fraction and the noise level (more
clean images: better fidelity, more copying) and Ambient Diffusion over the erase probability
(more erasure: less copying, worse fidelity). Three (SFBD) and two (Ambient) seed replicates,
with a few pruned, short-budget, failed and running trials mixed in.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"


def _png(path: Path, seed: int, size: int = 64) -> str:
    """A small sample-grid-like PNG (blocky grey digits stand-in)."""
    rng = np.random.default_rng(seed)
    cells = (rng.random((8, 8)) * 255).astype(np.uint8)
    img = Image.fromarray(np.kron(cells, np.ones((size // 8, size // 8), dtype=np.uint8)))
    path.parent.mkdir(parents=True, exist_ok=True)
    img.save(path)
    return str(path)


def _rows(
    sweep: str,
    method: str,
    grid: list[dict[str, float]],
    replicates: int,
    model,
    rng: np.random.Generator,
    image_dir: Path | None,
) -> list[dict[str, object]]:
    rows = []
    for cfg in grid:
        key = ",".join(f"{k}={v}" for k, v in sorted(cfg.items()))
        group = hashlib.sha1(f"{sweep}:{key}".encode()).hexdigest()[:10]
        fd, mem = model(**cfg)
        for r in range(replicates):
            trial = f"{sweep[:4]}_{len(rows):03d}"
            row: dict[str, object] = {
                "sweep": sweep,
                "trial_id": trial,
                "run_id": hashlib.sha1(trial.encode()).hexdigest()[:16],
                "state": "complete",
                "budget_complete": True,
                "config_hash": hashlib.sha1(f"{group}:{r}".encode()).hexdigest()[:10],
                "group_id": group,
                "replicate": r,
                "method": method,
                **{f"param.method.{k}": v for k, v in cfg.items()},
                "fd_digits_cnn": fd * (1 + 0.06 * rng.standard_normal()),
                "mem_ratio_pixels": float(np.clip(mem + 0.012 * rng.standard_normal(), 0, 1)),
                "mem_unique_pixels": float(rng.integers(0, 40)),
                "image.samples": None,
                "image.gallery": None,
            }
            if image_dir is not None and len(rows) % 4 != 3:  # some trials have no images
                row["image.samples"] = _png(image_dir / f"{trial}_samples.png", len(rows))
                row["image.gallery"] = _png(image_dir / f"{trial}_gallery.png", len(rows) + 999)
            rows.append(row)
    return rows


def _sfbd(clean_fraction: float, sigma: float) -> tuple[float, float]:
    fd = 0.9 + 2.6 * np.exp(-clean_fraction / 0.06) + 0.9 * sigma
    mem = 0.32 * clean_fraction**0.6 * (1.0 - 0.35 * sigma)
    return fd, mem


def _ambient(p: float) -> tuple[float, float]:
    return 1.2 + 3.5 * p**2, 0.22 * (1.0 - p) ** 2


def make_results(image_dir: Path | None = None, seed: int = 0) -> dict[str, pd.DataFrame]:
    """``{sweep: table}`` for two sweeps with special trials (see the module docstring)."""
    rng = np.random.default_rng(seed)
    sfbd_grid = [
        {"clean_fraction": cf, "sigma": s}
        for cf in (0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
        for s in (0.3, 0.8)
    ]
    sfbd = pd.DataFrame(_rows("sfbd_clean_fraction", "sfbd", sfbd_grid, 3, _sfbd, rng, image_dir))
    # Early stopping cut two seeds short (pruned); one trial ran out of time (short budget,
    # marked complete); one diverged (failed, no metrics); one is still running.
    sfbd.loc[4, ["state", "budget_complete"]] = ["pruned", False]
    sfbd.loc[4, ["fd_digits_cnn", "mem_ratio_pixels"]] = [1.5, 0.001]  # would dominate if eligible
    sfbd.loc[10, ["state", "budget_complete"]] = ["pruned", False]
    sfbd.loc[17, "budget_complete"] = False
    sfbd.loc[23, ["state", "budget_complete"]] = ["failed", False]
    sfbd.loc[23, ["fd_digits_cnn", "mem_ratio_pixels", "mem_unique_pixels"]] = np.nan
    sfbd.loc[40, ["state", "budget_complete"]] = ["running", False]
    ambient_grid = [{"p": p} for p in (0.2, 0.4, 0.6, 0.8)]
    ambient = pd.DataFrame(
        _rows("ambient_p", "ambient", ambient_grid, 2, _ambient, rng, image_dir)
    )
    return {"sfbd_clean_fraction": sfbd, "ambient_p": ambient}


OBJECTIVES = [("fd_digits_cnn", "min", None), ("mem_ratio_pixels", "min", 0.35)]


@pytest.fixture
def results(tmp_path: Path) -> dict[str, pd.DataFrame]:
    """Both sweeps, with sample/gallery PNGs under ``tmp_path``."""
    return make_results(tmp_path / "images")


@pytest.fixture
def objectives() -> list[tuple[str, str, float | None]]:
    """fd_digits_cnn (min, derived reference) and mem_ratio_pixels (min, ref 0.35)."""
    return list(OBJECTIVES)
