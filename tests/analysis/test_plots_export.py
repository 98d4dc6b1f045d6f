"""Figures and files: every format is written and non-empty; tables round-trip through CSV."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from ambientsweep.analysis.aggregate import compute_pareto
from ambientsweep.analysis.export import export_pareto, parse_formats
from ambientsweep.analysis.plots import plot_pareto, save_figure

from .conftest import ARTIFACTS

MAGIC = {"png": b"\x89PNG", "svg": b"<?xml", "pdf": b"%PDF"}


def test_plot_writes_png_svg_pdf(results, objectives, tmp_path: Path) -> None:
    info = compute_pareto({"sfbd_clean_fraction": results["sfbd_clean_fraction"]}, objectives)
    fig = plot_pareto(info)
    paths = save_figure(fig, tmp_path / "front")
    assert set(paths) == {"png", "svg", "pdf"}
    for fmt, path in paths.items():
        data = path.read_bytes()
        assert len(data) > 5_000 and data.startswith(MAGIC[fmt]), fmt
    ax = fig.axes[0]
    assert ax.get_xlabel() == "fd_digits_cnn (lower is better)"
    assert ax.get_ylabel() == "mem_ratio_pixels (lower is better)"
    labels = [t.get_text() for t in ax.texts]
    assert "clean_fraction=0.5, sigma=0.3" in labels  # front points are labelled
    assert len(labels) == int(info.series[0].on_front.sum())
    # The example the issue asks to look at (git-ignored).
    ARTIFACTS.mkdir(exist_ok=True)
    save_figure(fig, ARTIFACTS / "pareto_example", ["png"])


def test_plot_several_sweeps_and_three_objectives(results, tmp_path: Path) -> None:
    objs = [("fd_digits_cnn", "min"), ("mem_ratio_pixels", "min"), ("mem_unique_pixels", "min")]
    fig = plot_pareto(compute_pareto(results, objs, color_by="sigma"))
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert any(t.startswith("sfbd_clean_fraction, front HV=") for t in legend)
    assert any(t.startswith("ambient_p, front HV=") for t in legend)
    assert any("failed (1 without metrics)" in t for t in legend)
    assert save_figure(fig, tmp_path / "f", ["png"])["png"].stat().st_size > 5_000


def test_export_pareto_all_formats(results, objectives, tmp_path: Path) -> None:
    out = export_pareto(results, objectives, "png,svg,pdf,csv,json", tmp_path / "out")
    assert set(out) == {"png", "svg", "pdf", "csv", "csv_groups", "json"}
    assert all(p.stat().st_size > 0 for p in out.values())
    trials = pd.read_csv(out["csv"])
    assert len(trials) == sum(len(df) for df in results.values())
    for col in (
        "sweep",
        "trial_id",
        "state",
        "param.method.clean_fraction",
        "param.method.p",
        "fd_digits_cnn",
        "mem_ratio_pixels",
        "eligible",
        "on_front",
    ):
        assert col in trials.columns
    assert not trials.loc[trials["state"] != "complete", "on_front"].any()
    groups = pd.read_csv(out["csv_groups"])
    assert {"fd_digits_cnn.std", "n_replicates", "on_front"} <= set(groups.columns)
    assert (
        groups["on_front"].sum() == trials.groupby(["sweep", "group_id"])["on_front"].any().sum()
    )
    summary = json.loads(out["json"].read_text())
    assert summary["sweeps"]["ambient_p"]["hypervolume"] > 0


def test_parse_formats() -> None:
    assert parse_formats("png, SVG,png,.csv") == ["png", "svg", "csv"]
    with pytest.raises(ValueError, match="unknown export format 'gif'"):
        parse_formats("png,gif")
