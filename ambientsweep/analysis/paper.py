"""The Pareto figure in a paper's style: one column wide, serif type, vector files.

One column of a two-column paper (ICML, NeurIPS, CVPR) is about 3.25-3.5 in; the figure is
3.4 in x 2.7 in with 8 pt text (7 pt ticks and legend), no title (the caption says it), and
fonts kept as text in SVG and as TrueType in PDF so they stay editable and searchable.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import matplotlib as mpl
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ambientsweep.analysis.pareto import ParetoInfo
from ambientsweep.analysis.plots import plot_pareto, save_figure

STYLES = ("default", "paper")
PAPER_SIZE_IN = (3.4, 2.7)
PAPER_FORMATS = ("pdf", "svg")
PAPER_RC = {
    "font.family": "serif",
    "font.serif": ["DejaVu Serif", "Times New Roman", "Times", "serif"],
    "mathtext.fontset": "dejavuserif",
    "font.size": 8,
    "axes.labelsize": 8,
    "axes.titlesize": 8,
    "xtick.labelsize": 7,
    "ytick.labelsize": 7,
    "legend.fontsize": 7,
    "lines.linewidth": 1.0,
    "lines.markersize": 4,
    "axes.linewidth": 0.6,
    "pdf.fonttype": 42,
    "svg.fonttype": "none",
}


def save_paper_figure(info: ParetoInfo, base: Path,
                      formats: Iterable[str] = PAPER_FORMATS) -> dict[str, Path]:
    """Draw and write the paper-style figure as ``base.<fmt>``; returns ``{fmt: path}``."""
    with mpl.rc_context(PAPER_RC):
        fig = Figure(figsize=PAPER_SIZE_IN, layout="constrained")
        FigureCanvasAgg(fig)
        plot_pareto(info, fig.add_subplot(), title="")
        return save_figure(fig, base, formats, dpi=300)
