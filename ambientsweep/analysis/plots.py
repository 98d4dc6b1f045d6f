"""Draw a :class:`~ambientsweep.analysis.pareto.ParetoInfo` with matplotlib (Agg, no pyplot).

What the figure shows (one series per sweep, told apart by marker shape and front colour):
- each eligible configuration at the mean of its replicates, filled and coloured by the
  ``color_by`` parameter (colour bar), with std error bars when it has several replicates, and
  its replicates as small faint dots;
- each sweep's front as a step line (two objectives), front points ringed and labelled with
  their parameter values (labels placed so they do not overlap points or each other);
- every trial of an ineligible configuration as a grey hollow marker per state (pruned,
  short budget, running, failed); trials without metrics are counted in the legend.
Nothing is computed here beyond layout: fronts and hypervolumes come from the ParetoInfo.
"""

from __future__ import annotations

import itertools
import textwrap
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from matplotlib import colors as mcolors
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.cm import ScalarMappable
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation
from matplotlib.transforms import Bbox

from ambientsweep.analysis.aggregate import (
    as_float,
    format_value,
    point_label,
    short_param_names,
)
from ambientsweep.analysis.formats import IMAGE_FORMATS
from ambientsweep.analysis.pareto import ParetoInfo, SeriesInfo

SERIES_MARKERS = ("o", "s", "^", "D", "v", "P", "X")
FRONT_COLORS = ("#1f1f1f", "#c0392b", "#1f5fa8", "#2e8b57", "#8e44ad", "#d35400")
# Hollow grey markers for trials that cannot be on the front, by displayed state.
STATE_STYLE = {
    "pruned": ("o", "pruned (stopped early)"),
    "incomplete": ("s", "short budget"),
    "running": ("D", "running"),
    "failed": ("X", "failed"),
    "complete": ("v", "complete, but a seed of its configuration is not"),
}
INELIGIBLE_COLOR = "#8c8c8c"
NEUTRAL_COLOR = "#7f7f7f"


# ----------------------------------------------------------------------------------------------
# Colour by a swept parameter.


class _ColorMap:
    """Maps values of the ``color_by`` parameter to colours; numeric (log scale when all values
    are positive and span 20x or more) or categorical."""

    def __init__(self, info: ParetoInfo) -> None:
        self.key = info.color_by
        values = [
            v
            for s in info.series
            if self.key in s.params
            for v in np.asarray(s.params[self.key]).tolist()
        ]
        self.categories: list[str] | None = None
        self.distinct: list[float] = []
        self.mappable: ScalarMappable | None = None
        if not values:
            return
        numeric = np.array([as_float(v) for v in values])
        self.distinct = sorted(set(numeric.tolist()))
        if np.isfinite(numeric).all():
            lo, hi = float(numeric.min()), float(numeric.max())
            if lo > 0 and hi / lo >= 20:
                norm: mcolors.Normalize = mcolors.LogNorm(lo, hi)
            else:
                norm = mcolors.Normalize(lo, hi if hi > lo else lo + 1.0)
            self.mappable = ScalarMappable(norm, "viridis")
        else:
            self.categories = sorted({str(v) for v in values})
            k = len(self.categories)
            cmap = mcolors.ListedColormap([f"C{i % 10}" for i in range(k)])
            norm = mcolors.BoundaryNorm(np.arange(k + 1) - 0.5, k)
            self.mappable = ScalarMappable(norm, cmap)

    def __call__(self, series: SeriesInfo, values: np.ndarray | None = None) -> np.ndarray:
        """RGBA ``[K, 4]`` for ``values`` (default: the series' group values)."""
        if values is None:
            values = series.params.get(self.key) if self.key is not None else None
        if self.mappable is None or values is None:
            n = len(series.group_ids) if values is None else len(values)
            return np.tile(mcolors.to_rgba(NEUTRAL_COLOR), (n, 1))
        vals = np.asarray(values)
        if self.categories is not None:
            codes = np.array([self.categories.index(str(v)) for v in vals.tolist()])
            return self.mappable.to_rgba(codes)
        return self.mappable.to_rgba(np.array([as_float(v) for v in vals.tolist()]))


# ----------------------------------------------------------------------------------------------
# Front labels without overlaps.

# Candidate label offsets (points), nearest first; the far ones get a leader line.
# fmt: off
_OFFSETS = [
    (8, 8), (8, -8), (-8, 8), (-8, -8), (12, 0), (-12, 0), (0, 12), (0, -12),
    (20, 20), (20, -20), (-20, 20), (-20, -20), (28, 0), (-28, 0), (0, 26), (0, -26),
    (34, 34), (34, -34), (-34, 34), (-34, -34),
]
# fmt: on


def _place_labels(
    ax: Axes,
    xy: np.ndarray,
    texts: Sequence[str],
    avoid: np.ndarray,
    lines: Sequence[np.ndarray] = (),
) -> None:
    """Annotate ``xy`` (data coords) with ``texts``, choosing for each label (greedily, in
    order) the offset with the least overlap with placed labels, the ``avoid`` points, the
    polylines ``lines`` (front steps) and the axes border, preferring short offsets."""
    fig = ax.figure
    canvas = fig.canvas if isinstance(fig.canvas, FigureCanvasAgg) else FigureCanvasAgg(fig)
    canvas.draw()  # fixes the layout so display coordinates are final
    renderer = canvas.get_renderer()
    axbox = ax.get_window_extent(renderer)
    pts = ax.transData.transform(avoid) if len(avoid) else np.empty((0, 2))
    line_pts = _densify([ax.transData.transform(line) for line in lines], step=3.0)
    radius = 5.0 * fig.dpi / 72.0
    placed: list = []
    for (x, y), text in zip(xy, texts, strict=True):
        best, best_cost = None, np.inf
        for dx, dy in _OFFSETS:
            ann = _annotation(ax, text, (x, y), (dx, dy), leader=abs(dx) + abs(dy) > 24)
            box = ann.get_window_extent(renderer).expanded(1.05, 1.1)
            cost = sum(_overlap(box, b) for b in placed)
            near = (pts[:, 0] > box.x0 - radius) & (pts[:, 0] < box.x1 + radius)
            near &= (pts[:, 1] > box.y0 - radius) & (pts[:, 1] < box.y1 + radius)
            cost += 40.0 * float(near.sum())
            on_line = (line_pts[:, 0] > box.x0) & (line_pts[:, 0] < box.x1)
            on_line &= (line_pts[:, 1] > box.y0) & (line_pts[:, 1] < box.y1)
            cost += 4.0 * float(on_line.sum())
            outside = max(0.0, axbox.x0 - box.x0) + max(0.0, box.x1 - axbox.x1)
            outside += max(0.0, axbox.y0 - box.y0) + max(0.0, box.y1 - axbox.y1)
            cost += 100.0 * outside
            cost += 0.5 * (abs(dx) + abs(dy))  # prefer labels close to their point
            if cost < best_cost:
                if best is not None:
                    best.remove()
                best, best_cost = ann, cost
            else:
                ann.remove()
        assert best is not None
        placed.append(best.get_window_extent(renderer))


def _densify(lines: Sequence[np.ndarray], step: float) -> np.ndarray:
    """Points every ``step`` display units along each polyline (``[K, 2]`` display coords)."""
    out = [np.empty((0, 2))]
    for line in lines:
        for a, b in itertools.pairwise(line):
            n = max(2, int(np.hypot(*(b - a)) / step) + 1)
            out.append(a + np.linspace(0.0, 1.0, n)[:, None] * (b - a))
    return np.concatenate(out)


def _step_vertices(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Vertices of the ``where="post"`` step line through ``(x, y)``."""
    v = [(x[0], y[0])]
    for i in range(1, len(x)):
        v += [(x[i], y[i - 1]), (x[i], y[i])]
    return np.array(v, dtype=float)


def _annotation(
    ax: Axes, text: str, xy: tuple[float, float], offset: tuple[float, float], leader: bool = False
) -> Annotation:
    dx, dy = offset
    ann = ax.annotate(
        text,
        xy,
        xytext=(dx, dy),
        textcoords="offset points",
        ha="left" if dx > 0 else ("right" if dx < 0 else "center"),
        va="bottom" if dy > 0 else ("top" if dy < 0 else "center"),
        fontsize=7,
        color="#222222",
        bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.8},
        arrowprops={"arrowstyle": "-", "color": "#666666", "lw": 0.6} if leader else None,
        zorder=6,
    )
    ann.set_in_layout(False)
    return ann


def _overlap(a: Bbox, b: Bbox) -> float:
    """Area shared by two display boxes."""
    w = min(a.x1, b.x1) - max(a.x0, b.x0)
    h = min(a.y1, b.y1) - max(a.y0, b.y0)
    return float(w * h) if w > 0 and h > 0 else 0.0


# ----------------------------------------------------------------------------------------------
# The figure.


@dataclass
class _Layers:
    """What the parts of :func:`plot_pareto` collect for the legend and the front labels."""

    handles: list[Line2D] = field(default_factory=list)
    ineligible_xy: dict[str, list[np.ndarray]] = field(default_factory=dict)
    missing: dict[str, int] = field(default_factory=dict)  # state -> trials without metrics
    label_xy: list[list[float]] = field(default_factory=list)
    label_text: list[str] = field(default_factory=list)
    avoid: list[np.ndarray] = field(default_factory=list)  # points labels must not cover
    step_lines: list[np.ndarray] = field(default_factory=list)


def plot_pareto(
    info: ParetoInfo,
    ax: Axes | None = None,
    *,
    x: int = 0,
    y: int = 1,
    label_front: bool = True,
    title: str | None = None,
) -> Figure:
    """Draw every series of ``info`` on objectives ``x`` and ``y``; return the figure.

    Per series: its configurations (:func:`_draw_groups`), its front (:func:`_draw_front`) and
    its legend entry; then the trials that cannot be on a front (:func:`_draw_ineligible`),
    axes and colour bar (:func:`_decorate`), legend and front labels. With more than two
    objectives the front (taken over all of them) is ringed but no step line is drawn, since
    its projection is not a staircase.
    """
    if len(info.objectives) < 2:
        raise ValueError("a Pareto plot needs at least two objectives")
    if ax is None:
        fig = Figure(figsize=(8.0, 6.0), layout="constrained")
        FigureCanvasAgg(fig)
        ax = fig.add_subplot()
    else:
        fig = ax.figure  # type: ignore[assignment]
    cmap = _ColorMap(info)
    layers = _Layers()
    shorts = short_param_names(info.param_names)
    for k, s in enumerate(info.series):
        pts, ok = _draw_groups(ax, info, s, k, cmap, x, y, layers)
        path = _draw_front(ax, info, s, k, pts, x, layers, shorts if label_front else None)
        layers.handles.append(_series_handle(info, s, k, path))
        _collect_ineligible(s, ok, x, y, layers)
    _draw_ineligible(ax, layers)
    _decorate(fig, ax, info, cmap, x, y, title)
    fig.legend(
        handles=layers.handles,
        loc="outside lower center",
        ncols=_legend_columns(fig, [str(h.get_label()) for h in layers.handles], fontsize=8),
        fontsize=8,
        frameon=False,
    )
    if layers.label_xy:
        pts_all = np.concatenate(layers.avoid) if layers.avoid else np.empty((0, 2))
        _place_labels(ax, np.array(layers.label_xy), layers.label_text, pts_all,
                      layers.step_lines)
    return fig


def _draw_groups(ax: Axes, info: ParetoInfo, s: SeriesInfo, k: int, cmap: _ColorMap, x: int,
                 y: int, layers: _Layers) -> tuple[np.ndarray, np.ndarray]:
    """The eligible configurations of series ``k``: faint replicates, mean ± std error bars
    (where a group has several seeds) and the means; returns (points, eligible-and-finite)."""
    marker = SERIES_MARKERS[k % len(SERIES_MARKERS)]
    front_color = FRONT_COLORS[k % len(FRONT_COLORS)]
    pts = s.points[:, [x, y]]
    err = s.spread[:, [x, y]]
    ok = s.eligible & np.isfinite(pts).all(axis=1)
    colors = (
        cmap(s)
        if info.color_by in s.params
        else np.tile(mcolors.to_rgba(front_color, 0.85), (len(s.group_ids), 1))
    )
    rep = ok[s.trial_group] & (s.n_replicates[s.trial_group] > 1)
    if rep.any():
        tp = s.trial_points[rep][:, [x, y]]
        ax.scatter(tp[:, 0], tp[:, 1], s=10, c=colors[s.trial_group[rep]], alpha=0.35,
                   marker=marker, linewidths=0, zorder=2)
    for g in np.flatnonzero(ok & (s.n_replicates > 1)):
        ax.errorbar(pts[g, 0], pts[g, 1], xerr=err[g, 0], yerr=err[g, 1], fmt="none",
                    ecolor=colors[g], alpha=0.8, elinewidth=1.0, capsize=2, zorder=3)
    ax.scatter(pts[ok, 0], pts[ok, 1], s=46, c=colors[ok], marker=marker,
               edgecolors="#303030", linewidths=0.6, zorder=4)
    layers.avoid.append(pts[ok])
    return pts, ok


def _draw_front(ax: Axes, info: ParetoInfo, s: SeriesInfo, k: int, pts: np.ndarray, x: int,
                layers: _Layers, shorts: dict[str, str] | None) -> np.ndarray:
    """Ring the front of series ``k``, draw its staircase (two objectives only) and queue its
    labels (when ``shorts`` is given); returns the front's group indices in path order."""
    marker = SERIES_MARKERS[k % len(SERIES_MARKERS)]
    front_color = FRONT_COLORS[k % len(FRONT_COLORS)]
    path = info.front_path(s)
    if not len(path):
        return path
    fp = pts[path]
    ax.scatter(fp[:, 0], fp[:, 1], s=120, facecolors="none", edgecolors=front_color,
               linewidths=1.4, marker=marker, zorder=5)
    if len(info.objectives) == 2:
        xdir = info.objectives[x].direction
        order = np.argsort(fp[:, 0] * (1 if xdir == "min" else -1), kind="stable")
        ax.step(fp[order, 0], fp[order, 1], where="post", color=front_color, lw=1.6,
                alpha=0.9, zorder=3.5)
        layers.step_lines.append(_step_vertices(fp[order, 0], fp[order, 1]))
    if shorts is not None:
        layers.label_xy.extend(fp.tolist())
        layers.label_text.extend(_front_label(s, g, info, shorts) for g in path)
    return path


def _series_handle(info: ParetoInfo, s: SeriesInfo, k: int, path: np.ndarray) -> Line2D:
    """Legend entry of series ``k``: its marker, its front's line and hypervolume."""
    marker = SERIES_MARKERS[k % len(SERIES_MARKERS)]
    front_color = FRONT_COLORS[k % len(FRONT_COLORS)]
    name = s.sweep if len(info.series) > 1 else "configuration (mean ± std of seeds)"
    face = "#bdbdbd" if info.color_by in s.params else front_color
    two_d = len(info.objectives) == 2
    return Line2D([], [], color=front_color if len(path) and two_d else "none", marker=marker,
                  markerfacecolor=face, markeredgecolor="#303030",
                  label=f"{name}, front HV={s.hypervolume:.3g}")


def _collect_ineligible(s: SeriesInfo, ok: np.ndarray, x: int, y: int, layers: _Layers) -> None:
    """Trials whose configuration cannot be on the front, per displayed state (those without
    finite values are only counted)."""
    for t in np.flatnonzero(~ok[s.trial_group]):
        state = s.trial_state[t] if s.trial_state[t] in STATE_STYLE else "failed"
        tp = s.trial_points[t, [x, y]]
        if np.isfinite(tp).all():
            layers.ineligible_xy.setdefault(state, []).append(tp)
        else:
            layers.missing[state] = layers.missing.get(state, 0) + 1


def _draw_ineligible(ax: Axes, layers: _Layers) -> None:
    """One grey hollow marker per ineligible trial, one legend entry per state present."""
    for state, (m, text) in STATE_STYLE.items():
        xy = np.array(layers.ineligible_xy.get(state, []), dtype=float).reshape(-1, 2)
        n_missing = layers.missing.get(state, 0)
        if len(xy) == 0 and n_missing == 0:
            continue
        if len(xy):
            ax.scatter(xy[:, 0], xy[:, 1], s=34, marker=m, facecolors="none",
                       edgecolors=INELIGIBLE_COLOR, linewidths=1.0, zorder=2.5)
            layers.avoid.append(xy)
        if n_missing:
            text += f" ({n_missing} without metrics)"
        layers.handles.append(Line2D([], [], ls="none", marker=m, markerfacecolor="none",
                                     markeredgecolor=INELIGIBLE_COLOR, label=text))


def _decorate(fig: Figure, ax: Axes, info: ParetoInfo, cmap: _ColorMap, x: int, y: int,
              title: str | None) -> None:
    """Axis labels, grid, title and the colour bar of the swept key."""
    ax.set_xlabel(info.objectives[x].label)
    ax.set_ylabel(info.objectives[y].label)
    ax.grid(True, color="#e5e5e5", lw=0.6, zorder=0)
    ax.set_axisbelow(True)
    ax.margins(0.08)
    if title is None:
        title = " vs ".join(s.sweep for s in info.series) + ": fidelity–memorization front"
        title = textwrap.fill(title, width=90)  # several sweeps' names would run off the figure
    ax.set_title(title, fontsize=11)
    if cmap.mappable is None or info.color_by is None:
        return
    cbar = fig.colorbar(cmap.mappable, ax=ax, pad=0.02, fraction=0.05, aspect=30)
    cbar.set_label(info.color_by, fontsize=9)
    cbar.ax.tick_params(labelsize=8)
    if cmap.categories is not None:
        cbar.set_ticks(np.arange(len(cmap.categories)), labels=cmap.categories)
    elif len(cmap.distinct) <= 12:  # a grid sweep: tick exactly the swept values
        cbar.set_ticks(cmap.distinct, labels=[format_value(v) for v in cmap.distinct])
        cbar.minorticks_off()


def _legend_columns(fig: Figure, labels: list[str], *, fontsize: float) -> int:
    """The most columns (up to 3) whose widest entries still fit the figure's width."""
    width_pt = fig.get_figwidth() * 72
    widest = max((len(t) for t in labels), default=0) * 0.55 * fontsize + 3 * fontsize
    for n in (3, 2):
        if n <= len(labels) and n * widest <= 0.95 * width_pt:
            return n
    return 1


def _front_label(s: SeriesInfo, g: int, info: ParetoInfo, shorts: dict[str, str]) -> str:
    """Parameter values of a front point; the sweep name is prefixed when several sweeps."""
    return point_label(s.params, g, shorts) or s.group_ids[g]


def save_figure(
    fig: Figure, base: Path, formats: Iterable[str] = IMAGE_FORMATS, dpi: int = 160
) -> dict[str, Path]:
    """Write ``fig`` as ``base.<fmt>`` for each image format; returns ``{fmt: path}``."""
    out: dict[str, Path] = {}
    base.parent.mkdir(parents=True, exist_ok=True)
    for fmt in formats:
        if fmt not in IMAGE_FORMATS:
            raise ValueError(f"image format {fmt!r} not in {IMAGE_FORMATS}")
        path = base.with_name(f"{base.name}.{fmt}")
        fig.savefig(path, format=fmt, dpi=dpi, metadata=_metadata(fmt))
        out[fmt] = path
    return out


def _metadata(fmt: str) -> dict[str, str | None]:
    """Reproducible files: no creation date in SVG/PDF."""
    if fmt == "svg":
        return {"Date": None}
    if fmt == "pdf":
        return {"CreationDate": None}
    return {}
