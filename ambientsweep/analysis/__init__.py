"""Fidelity–memorization fronts of sweeps: compute (pareto, aggregate), then draw and export.

Input is the results table of docs/contracts.md (one row per trial). Typical use::

    from ambientsweep.analysis import export_pareto, write_dashboard
    export_pareto({"my_sweep": df}, [("fd_digits_cnn", "min", None),
                                      ("mem_ratio_pixels", "min", 0.5)],
                  "png,svg,pdf,csv,html", out_dir)

Every name is imported on first use: computing fronts needs numpy and pandas only, drawing
loads matplotlib or plotly, and ``analysis.formats`` (the command line's list) needs neither.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ambientsweep.analysis.aggregate import (
        aggregate_replicates,
        compute_pareto,
        eligible_trials,
        groups_table,
        trials_table,
    )
    from ambientsweep.analysis.dashboard import write_dashboard
    from ambientsweep.analysis.export import export_pareto, pareto_summary
    from ambientsweep.analysis.formats import FORMATS
    from ambientsweep.analysis.pareto import (
        Objective,
        ParetoInfo,
        SeriesInfo,
        hypervolume,
        hypervolume_2d,
        non_dominated_mask,
    )
    from ambientsweep.analysis.plots import plot_pareto, save_figure

__all__ = [
    "FORMATS",
    "Objective",
    "ParetoInfo",
    "SeriesInfo",
    "aggregate_replicates",
    "compute_pareto",
    "eligible_trials",
    "export_pareto",
    "groups_table",
    "hypervolume",
    "hypervolume_2d",
    "non_dominated_mask",
    "pareto_summary",
    "plot_pareto",
    "save_figure",
    "trials_table",
    "write_dashboard",
]

_LAZY = {
    **dict.fromkeys(("aggregate_replicates", "compute_pareto", "eligible_trials",
                     "groups_table", "trials_table"), "ambientsweep.analysis.aggregate"),
    **dict.fromkeys(("Objective", "ParetoInfo", "SeriesInfo", "hypervolume", "hypervolume_2d",
                     "non_dominated_mask"), "ambientsweep.analysis.pareto"),
    "FORMATS": "ambientsweep.analysis.formats",
    "write_dashboard": "ambientsweep.analysis.dashboard",
    "export_pareto": "ambientsweep.analysis.export",
    "pareto_summary": "ambientsweep.analysis.export",
    "plot_pareto": "ambientsweep.analysis.plots",
    "save_figure": "ambientsweep.analysis.plots",
}


def __getattr__(name: str) -> Any:
    """Import the computing and drawing modules (numpy, pandas, matplotlib, plotly) on first
    use only."""
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
