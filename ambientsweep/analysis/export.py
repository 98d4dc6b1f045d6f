"""Write a sweep's (or several sweeps') front as files: figures, CSV tables, JSON, HTML.

``export_pareto`` is what ``ambientsweep pareto SWEEP... --format ... --out DIR`` calls. File
names (``stem`` defaults to ``"pareto"``):

| format | files |
|---|---|
| png, svg, pdf | ``pareto.<fmt>``: the figure (:func:`ambientsweep.analysis.plots.plot_pareto`) |
| csv | ``pareto_trials.csv`` (one row per trial: params, objectives, state, eligible, on_front)
  and ``pareto_groups.csv`` (one row per configuration: mean/std/count per objective) |
| json | ``pareto_summary.json``: objectives, reference point, hypervolume and front per sweep, |
|  | the feature-extractor digests of each sweep's trials and any warnings |
| html | ``pareto.html``: the self-contained dashboard (:mod:`ambientsweep.analysis.dashboard`) |
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ambientsweep.analysis.aggregate import compute_pareto, groups_table, trials_table
from ambientsweep.analysis.extractors import extractor_digests
from ambientsweep.analysis.formats import FORMATS, IMAGE_FORMATS, parse_formats
from ambientsweep.analysis.pareto import ObjectiveLike, ParetoInfo
from ambientsweep.analysis.plots import plot_pareto, save_figure

__all__ = ["FORMATS", "export_pareto", "pareto_summary", "parse_formats"]


def pareto_summary(info: ParetoInfo) -> dict[str, object]:
    """JSON-ready summary: per sweep the hypervolume and its front (group ids, labels, means)."""
    return {
        "objectives": [
            {"name": o.name, "direction": o.direction, "ref": o.ref} for o in info.objectives
        ],
        "reference": [float(v) for v in info.reference],
        "color_by": info.color_by,
        "sweeps": {
            s.sweep: {
                "hypervolume": s.hypervolume,
                "n_trials": len(s.trial_ids),
                "n_configurations": len(s.group_ids),
                "n_eligible_configurations": int(s.eligible.sum()),
                "front": [
                    {
                        "group_id": s.group_ids[g],
                        "label": s.labels[g],
                        "n_replicates": int(s.n_replicates[g]),
                        **{o.name: float(s.points[g, j]) for j, o in enumerate(info.objectives)},
                        "trial_ids": [s.trial_ids[t] for t in np.flatnonzero(s.trial_group == g)],
                    }
                    for g in info.front_path(s)
                ],
            }
            for s in info.series
        },
    }


def export_pareto(
    frames: Mapping[str, pd.DataFrame] | pd.DataFrame,
    objectives: Sequence[ObjectiveLike],
    formats: str | Iterable[str],
    out_dir: Path,
    color_by: str | None = None,
    *,
    stem: str = "pareto",
    warnings: Sequence[str] = (),
    style: str = "default",
) -> dict[str, Path]:
    """Compute the front(s) once and write each requested format under ``out_dir``.

    Args:
        frames: ``{sweep name: results table}`` (one series per sweep) or one table with a
            ``sweep`` column; tables follow docs/contracts.md "Results table".
        objectives: ``[(metric, "min"|"max", ref or None), ...]``; e.g. from a SweepSpec:
            ``[(o.metric, o.mode, o.ref) for o in spec.objectives]``.
        formats: any of png, svg, pdf, csv, json, html (list or comma-separated text).
        out_dir: created if missing.
        color_by: swept key the points are coloured by; None = first swept key.
        stem: file-name stem.
        warnings: shown with the output (the JSON summary's ``warnings``), e.g. that the
            objectives mix feature extractors.
        style: ``"default"`` (8 x 6 in, titled) or ``"paper"`` (one column, serif, no title:
            :mod:`ambientsweep.analysis.paper`).

    Returns:
        ``{format: path}``; ``"csv"`` is the trials table and ``"csv_groups"`` the
        configurations table.
    """
    fmts = parse_formats(formats)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    info = compute_pareto(frames, objectives, color_by)
    written: dict[str, Path] = {}
    images = [f for f in fmts if f in IMAGE_FORMATS]
    if images:
        if style == "paper":
            from ambientsweep.analysis.paper import save_paper_figure

            written.update(save_paper_figure(info, out_dir / stem, images))
        else:
            written.update(save_figure(plot_pareto(info), out_dir / stem, images))
    if "csv" in fmts:
        written["csv"] = out_dir / f"{stem}_trials.csv"
        trials_table(frames, info).to_csv(written["csv"], index=False)
        written["csv_groups"] = out_dir / f"{stem}_groups.csv"
        groups_table(info).to_csv(written["csv_groups"], index=False)
    if "json" in fmts:
        written["json"] = out_dir / f"{stem}_summary.json"
        summary = pareto_summary(info)
        summary["extractor_digests"] = extractor_digests(frames)  # per sweep
        summary["warnings"] = list(warnings)
        written["json"].write_text(json.dumps(summary, indent=2) + "\n")
    if "html" in fmts:
        from ambientsweep.analysis.dashboard import write_dashboard  # plotly only when asked

        written["html"] = write_dashboard(
            frames, objectives, out_dir / f"{stem}.html", color_by=color_by, info=info
        )
    return written
