"""A self-contained HTML dashboard of one or several sweeps' fronts (plotly, opens offline).

The page (template: ``ambientsweep/analysis/templates/pareto.template.html``) holds:
- the Pareto scatter, one marker per trial with metrics, the configuration means with their
  replicate std, and each sweep's front as a step line; hovering a trial shows its parameters
  and thumbnails of its sample grid and memorization gallery (``image.samples`` and
  ``image.gallery`` columns, PNG paths; missing files just show no thumbnail);
- parallel coordinates of the swept parameters against the objectives (one per sweep);
- per-parameter trends of each objective, mean ± std over seeds (one figure per sweep).

plotly.js, the data and the thumbnails (base64 data URIs) are inlined, so the file needs no
network and no other file. Nothing is computed here that the ParetoInfo does not already hold.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from string import Template
from typing import Any

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
from plotly.offline import get_plotlyjs
from plotly.subplots import make_subplots

from ambientsweep.analysis.aggregate import (
    as_float,
    compute_pareto,
    format_spread,
    format_value,
    short_param_names,
    split_sweeps,
)
from ambientsweep.analysis.pareto import ObjectiveLike, ParetoInfo, SeriesInfo

# A real file inside the package (sdists and wheels carry it); dashboards/ in the repository
# only links to it.
TEMPLATE = Path(__file__).resolve().parent / "templates" / "pareto.template.html"
IMAGE_COLUMNS = {"samples": "image.samples", "gallery": "image.gallery"}
THUMBNAIL_PX = 192  # longest side of an embedded thumbnail
SYMBOLS = ("circle", "square", "triangle-up", "diamond", "triangle-down", "cross", "x")
FRONT_COLORS = ("#1f1f1f", "#c0392b", "#1f5fa8", "#2e8b57", "#8e44ad", "#d35400")
GREY = "#8c8c8c"


def write_dashboard(
    frames: Mapping[str, pd.DataFrame] | pd.DataFrame,
    objectives: Sequence[ObjectiveLike],
    out_path: Path,
    color_by: str | None = None,
    *,
    info: ParetoInfo | None = None,
    title: str | None = None,
    template: Path = TEMPLATE,
) -> Path:
    """Write the dashboard of ``frames`` to ``out_path`` (parents created) and return it.

    Args:
        frames: ``{sweep name: results table}`` or one table with a ``sweep`` column.
        objectives: ``[(metric, "min"|"max", ref or None), ...]``; the first two are plotted.
        out_path: the ``.html`` file to write.
        color_by: swept key to colour by; None = first swept key.
        info: a ParetoInfo already computed from the same frames (else computed here).
        title: page title; default names the sweeps.
        template: the page template (``string.Template`` placeholders).
    """
    tables = split_sweeps(frames)
    if info is None:
        info = compute_pareto(tables, objectives, color_by)
    if not template.is_file():
        raise FileNotFoundError(
            f"dashboard template {template} not found (it ships inside the package: "
            "ambientsweep/analysis/templates/)"
        )
    trials = _trial_records(info, tables)
    data = {
        "pareto": _fig_json(pareto_figure(info)),
        "parcoords": [_fig_json(parcoords_figure(info, s)) for s in info.series],
        "trends": [_fig_json(trends_figure(info, s)) for s in info.series],
        "trials": trials,
    }
    sweeps = ", ".join(s.sweep for s in info.series)
    title = title or f"Pareto dashboard: {sweeps}"
    objs = " and ".join(o.label for o in info.objectives)
    page = Template(template.read_text(encoding="utf-8")).substitute(
        title=html.escape(title),
        subtitle=html.escape(f"{len(trials)} trials; objectives: {objs}"),
        summary_html=summary_html(info),
        plotly_js=get_plotlyjs(),
        data_json=json.dumps(data, allow_nan=False).replace("</", "<\\/"),
    )
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(page, encoding="utf-8")
    return out_path


# ----------------------------------------------------------------------------------------------
# Data for the page.


def _fig_json(fig: go.Figure) -> dict[str, Any]:
    return json.loads(pio.to_json(fig, validate=False))


def thumbnail_uri(path: object, max_px: int = THUMBNAIL_PX) -> str | None:
    """``data:image/png;base64,...`` of the image at ``path`` shrunk to ``max_px``; None when
    the path is empty or the file is missing or unreadable."""
    if path is None or (isinstance(path, float) and math.isnan(path)) or str(path) == "":
        return None
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(Path(str(path))) as img:
            img = img.convert("RGBA" if img.mode in ("RGBA", "LA", "P") else "RGB")
            img.thumbnail((max_px, max_px))
            buf = io.BytesIO()
            img.save(buf, format="PNG", optimize=True)
    except (OSError, UnidentifiedImageError):
        return None
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _trial_records(info: ParetoInfo, tables: Mapping[str, pd.DataFrame]) -> list[dict]:
    """One record per trial of every sweep, in series order (the scatter's customdata)."""
    records = []
    shorts = short_param_names(info.param_names)
    for s in info.series:
        df = tables[s.sweep]
        for t, trial_id in enumerate(s.trial_ids):
            g = s.trial_group[t]
            fields = [("sweep", s.sweep), ("trial", trial_id), ("state", s.trial_state[t])]
            fields += [(shorts[k], format_value(v[t])) for k, v in s.trial_params.items()]
            fields += [
                (o.name, format_value(s.trial_points[t, j])) for j, o in enumerate(info.objectives)
            ]
            fields.append(("configuration", f"{s.group_ids[g]} ({s.n_replicates[g]} seeds)"))
            fields.append(("on front", "yes" if s.on_front[g] and s.trial_eligible[t] else "no"))
            rec = {"trial_id": trial_id, "fields": [[a, str(b)] for a, b in fields]}
            for key, col in IMAGE_COLUMNS.items():
                rec[key] = thumbnail_uri(df[col].iloc[t]) if col in df.columns else None
            records.append(rec)
    return records


def _color_scale(info: ParetoInfo) -> tuple[dict[str, Any], Any]:
    """Marker colour settings shared by all traces, and a function values -> numbers."""
    key = info.color_by
    values = [v for s in info.series if key in s.params for v in np.asarray(s.params[key])]
    if key is None or not values:
        return {}, None
    nums = np.array([as_float(v) for v in values])
    if np.isfinite(nums).all():
        distinct = sorted(set(nums.tolist()))
        log = nums.min() > 0 and nums.max() / nums.min() >= 20

        def to_num(vals: Sequence[object]) -> list[float]:
            x = np.array([as_float(v) for v in vals])
            return (np.log10(x) if log else x).tolist()

        bar: dict[str, Any] = {"title": {"text": key, "side": "right"}}
        lo, hi = min(to_num(distinct)), max(to_num(distinct))
        if len(distinct) <= 12:  # a grid: tick exactly the swept values
            ticks = distinct
        elif log:  # decades
            ticks = [10.0**e for e in range(math.ceil(lo), math.floor(hi) + 1)]
        else:
            ticks = []
        if ticks:
            bar["tickvals"] = to_num(ticks)
            bar["ticktext"] = [format_value(v) for v in ticks]
    else:
        cats = sorted({str(v) for v in values})

        def to_num(vals: Sequence[object]) -> list[float]:
            return [float(cats.index(str(v))) for v in vals]

        bar = {
            "title": {"text": key, "side": "right"},
            "tickvals": list(range(len(cats))),
            "ticktext": cats,
        }
        lo, hi = 0.0, float(max(len(cats) - 1, 1))
    spec = {
        "colorscale": "Viridis",
        "cmin": lo,
        "cmax": hi if hi > lo else lo + 1,
        "colorbar": bar,
    }
    return spec, to_num


def _hover(info: ParetoInfo, s: SeriesInfo, idx: np.ndarray, trial: bool) -> list[str]:
    shorts = short_param_names(info.param_names)
    out = []
    for i in idx:
        if trial:
            head = f"<b>{s.trial_ids[i]}</b> ({s.trial_state[i]})"
            params = {k: v[i] for k, v in s.trial_params.items()}
            vals = s.trial_points[i]
            spread = None
        else:
            head = f"<b>configuration {s.group_ids[i]}</b> ({s.n_replicates[i]} seeds)"
            params = {k: v[i] for k, v in s.params.items()}
            vals, spread = s.points[i], s.spread[i]
        lines = [head, s.sweep]
        lines += [f"{shorts[k]} = {format_value(v)}" for k, v in params.items()]
        for j, o in enumerate(info.objectives):
            text = f"{o.name} = {format_value(vals[j])}"
            if spread is not None:
                text += f" ± {format_spread(spread[j])}"
            lines.append(text)
        out.append("<br>".join(html.escape(x) if "<b>" not in x else x for x in lines))
    return out


# ----------------------------------------------------------------------------------------------
# Figures.


def pareto_figure(info: ParetoInfo, x: int = 0, y: int = 1) -> go.Figure:
    """The scatter: trials (``meta.role == "trial"``; customdata = index into the page's trial
    records), configuration means with std, and each sweep's front as a step line."""
    fig = go.Figure()
    colors, to_num = _color_scale(info)
    offset, colorbar_shown = 0, False
    for k, s in enumerate(info.series):
        traces, colorbar_shown = _trial_traces(info, s, k, x, y, offset, (colors, to_num),
                                               colorbar_shown)
        traces += [t for t in (_mean_trace(info, s, k, x, y), _front_trace(info, s, k, x, y))
                   if t is not None]
        for trace in traces:
            fig.add_trace(trace)
        offset += len(s.trial_ids)
    fig.update_layout(
        xaxis_title=info.objectives[x].label,
        yaxis_title=info.objectives[y].label,
        template="plotly_white",
        hovermode="closest",
        margin={"l": 60, "r": 20, "t": 30, "b": 50},
        legend={"orientation": "h", "yanchor": "top", "y": -0.15, "x": 0},
    )
    return fig


def _trial_traces(info: ParetoInfo, s: SeriesInfo, k: int, x: int, y: int, offset: int,
                  scale: tuple[dict[str, Any], Any], colorbar_shown: bool
                  ) -> tuple[list[go.Scatter], bool]:
    """Series ``k``'s trials with finite values: eligible ones (coloured by the swept key, the
    first such trace carrying the colour bar) and the others (grey, open); returns the traces
    and whether the colour bar is shown now."""
    colors, to_num = scale
    symbol = SYMBOLS[k % len(SYMBOLS)]
    front_color = FRONT_COLORS[k % len(FRONT_COLORS)]
    finite = np.isfinite(s.trial_points[:, [x, y]]).all(axis=1)
    good = finite & s.eligible[s.trial_group]
    traces = []
    for mask, eligible in ((good, True), (finite & ~good, False)):
        idx = np.flatnonzero(mask)
        if not len(idx):
            continue
        marker: dict[str, Any] = {"symbol": symbol, "size": 8}
        if eligible and to_num is not None and info.color_by in s.trial_params:
            marker.update(colors, color=to_num(s.trial_params[info.color_by][idx]),
                          showscale=not colorbar_shown, line={"width": 0.5, "color": "#333"})
            colorbar_shown = True
        elif eligible:
            marker.update(color=front_color, opacity=0.8)
        else:
            marker.update(symbol=f"{symbol}-open", color=GREY, size=9)
        traces.append(go.Scatter(
            x=s.trial_points[idx, x].tolist(),
            y=s.trial_points[idx, y].tolist(),
            mode="markers",
            marker=marker,
            customdata=(idx + offset).tolist(),
            hovertext=_hover(info, s, idx, trial=True),
            hoverinfo="text",
            name=f"{s.sweep}: trials" if eligible else f"{s.sweep}: not eligible",
            legendgroup=s.sweep,
            meta={"role": "trial", "sweep": s.sweep},
        ))
    return traces, colorbar_shown


def _mean_trace(info: ParetoInfo, s: SeriesInfo, k: int, x: int, y: int) -> go.Scatter | None:
    """Means ± std of series ``k``'s eligible configurations with several seeds (None if none)."""
    symbol = SYMBOLS[k % len(SYMBOLS)]
    front_color = FRONT_COLORS[k % len(FRONT_COLORS)]
    multi = np.flatnonzero(s.eligible & (s.n_replicates > 1))
    if not len(multi):
        return None
    bars = {"thickness": 1, "width": 3, "color": front_color}
    return go.Scatter(
        x=s.points[multi, x].tolist(),
        y=s.points[multi, y].tolist(),
        mode="markers",
        marker={"symbol": f"{symbol}-open", "size": 15, "color": front_color,
                "line": {"width": 1.5}},
        error_x={"array": s.spread[multi, x].tolist(), **bars},
        error_y={"array": s.spread[multi, y].tolist(), **bars},
        hovertext=_hover(info, s, multi, trial=False),
        hoverinfo="text",
        name=f"{s.sweep}: configuration mean ± std",
        legendgroup=s.sweep,
        meta={"role": "mean", "sweep": s.sweep},
    )


def _front_trace(info: ParetoInfo, s: SeriesInfo, k: int, x: int, y: int) -> go.Scatter | None:
    """Series ``k``'s front: a step line (two objectives) or markers (None if it is empty)."""
    front_color = FRONT_COLORS[k % len(FRONT_COLORS)]
    path = info.front_path(s)
    if not len(path):
        return None
    return go.Scatter(
        x=s.points[path, x].tolist(),
        y=s.points[path, y].tolist(),
        # Labels of front points are in hover and the front table (text overlaps).
        mode="lines" if len(info.objectives) == 2 else "markers",
        line={"shape": "hv", "color": front_color, "width": 2},
        marker={"color": front_color, "size": 4},
        hoverinfo="skip",
        name=f"{s.sweep}: front (HV={s.hypervolume:.3g})",
        legendgroup=s.sweep,
        meta={"role": "front", "sweep": s.sweep},
    )


def _dimension(label: str, values: np.ndarray, log_ok: bool = True) -> dict[str, Any]:
    """A parcoords axis: numbers (for parameters, log10 with readable ticks when positive and
    spanning 20x or more), or categories as codes with their names as ticks."""
    nums = np.array([as_float(v) for v in values])
    if np.isfinite(nums).all():
        if log_ok and len(nums) and nums.min() > 0 and nums.max() / nums.min() >= 20:
            distinct = sorted(set(nums.tolist()))
            ticks = (
                distinct
                if len(distinct) <= 12
                else [
                    10.0**e
                    for e in range(
                        math.ceil(np.log10(nums.min())), math.floor(np.log10(nums.max())) + 1
                    )
                ]
            )
            return {
                "label": f"{label} (log)",
                "values": np.log10(nums).tolist(),
                "tickvals": np.log10(ticks).tolist(),
                "ticktext": [format_value(t) for t in ticks],
            }
        return {"label": label, "values": nums.tolist()}
    cats = sorted({str(v) for v in values})
    return {
        "label": label,
        "values": [cats.index(str(v)) for v in values],
        "tickvals": list(range(len(cats))),
        "ticktext": cats,
    }


def parcoords_figure(info: ParetoInfo, s: SeriesInfo) -> go.Figure:
    """Parallel coordinates over the trials with metrics: swept parameters, then objectives;
    lines coloured grey (not eligible), blue (eligible) or red (on the front)."""
    shorts = short_param_names(info.param_names)
    finite = np.isfinite(s.trial_points).all(axis=1)
    idx = np.flatnonzero(finite)
    dims = [_dimension(shorts[k], np.asarray(v)[idx]) for k, v in s.trial_params.items()]
    dims += [
        _dimension(o.label, s.trial_points[idx, j], log_ok=False)
        for j, o in enumerate(info.objectives)
    ]
    status = np.where(s.trial_eligible[idx], 0.5, 0.0)
    status[s.on_front[s.trial_group[idx]] & s.trial_eligible[idx]] = 1.0
    fig = go.Figure(
        go.Parcoords(
            dimensions=dims,
            line={
                "color": status.tolist(),
                "cmin": 0,
                "cmax": 1,
                "colorscale": [[0, "#c8c8c8"], [0.5, "#4a78b5"], [1, "#d62728"]],
            },
        )
    )
    fig.update_layout(
        title={
            "text": f"{s.sweep}: grey = not eligible, blue = eligible, red = on the front",
            "font": {"size": 13},
        },
        height=400,
        margin={"l": 80, "r": 80, "t": 100, "b": 30},
        template="plotly_white",
    )
    return fig


TREND_PALETTE = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
                 "#17becf", "#bcbd22", "#7f7f7f")


def trends_figure(info: ParetoInfo, s: SeriesInfo) -> go.Figure:
    """One panel per (objective, parameter): eligible configuration means ± std against the
    parameter, one line per combination of the other parameters (up to 10), with the
    individual seeds as faint dots."""
    keys = list(s.params)
    m = len(info.objectives)
    if not keys:
        fig = go.Figure()
        fig.update_layout(title=f"{s.sweep}: no swept parameters", height=120)
        return fig
    fig = make_subplots(rows=m, cols=len(keys), shared_xaxes="columns",
                        horizontal_spacing=0.08, vertical_spacing=0.08)
    ok = s.eligible & np.isfinite(s.points).all(axis=1)
    n_colors = 0  # colours run on across columns so that one legend explains every panel
    for c, key in enumerate(keys, start=1):
        lines, n_colors = _trend_lines(info, s, key, ok, n_colors)
        for r, trace in [*lines, *_trend_seeds(info, s, key, ok)]:
            fig.add_trace(trace, row=r, col=c)
        nums = np.array([as_float(v) for v in s.params[key]])
        log = np.isfinite(nums).all() and nums.min() > 0 and nums.max() / nums.min() >= 20
        fig.update_xaxes(title_text=key, row=m, col=c, type="log" if log else None)
    for r, obj in enumerate(info.objectives, start=1):
        fig.update_yaxes(title_text=obj.name, row=r, col=1)
    fig.update_layout(
        title={"text": s.sweep, "font": {"size": 13}},
        template="plotly_white",
        height=260 * m + 80,
        margin={"l": 70, "r": 20, "t": 50, "b": 50},
    )
    return fig


def _trend_lines(info: ParetoInfo, s: SeriesInfo, key: str, ok: np.ndarray, n_colors: int
                 ) -> tuple[list[tuple[int, go.Scatter]], int]:
    """The means ± std against ``key``, one coloured line per combination of the other swept
    values (markers only when there are more combinations than colours); returns ``(row,
    trace)`` pairs and the colour count after them."""
    shorts = short_param_names(info.param_names)
    others = [o for o in s.params if o != key]
    combos = sorted(
        {tuple(format_value(s.params[o][g]) for o in others) for g in np.flatnonzero(ok)}
    )
    lines = len(combos) <= len(TREND_PALETTE)
    out = []
    for n, combo in enumerate(combos if lines else [None]):
        sel = ok.copy()
        if combo is not None:
            for o, v in zip(others, combo, strict=True):
                sel &= np.array([format_value(p) == v for p in s.params[o]])
        g = np.flatnonzero(sel)
        xs = np.asarray(s.params[key])[g]
        order = np.array(sorted(range(len(xs)), key=lambda i: _sort_key(xs[i])), dtype=int)
        g, xs = g[order], xs[order]
        name = ", ".join(f"{shorts[o]}={v}" for o, v in zip(others, combo or (), strict=False))
        color = TREND_PALETTE[(n_colors + n) % len(TREND_PALETTE)]
        for r, obj in enumerate(info.objectives, start=1):
            out.append((r, go.Scatter(
                x=_plain(xs),
                y=s.points[g, r - 1].tolist(),
                error_y={"array": s.spread[g, r - 1].tolist(), "thickness": 1, "width": 3},
                mode="lines+markers" if lines else "markers",
                marker={"color": color, "size": 7},
                line={"color": color},
                name=name or shorts[key],
                legendgroup=name or shorts[key],
                showlegend=bool(name) and r == 1,
                hovertemplate=f"{shorts[key]}=%{{x}}<br>{obj.name}=%{{y:.4g}}<extra></extra>",
            )))
    return out, n_colors + (len(combos) if lines else 1)


def _trend_seeds(info: ParetoInfo, s: SeriesInfo, key: str, ok: np.ndarray
                 ) -> list[tuple[int, go.Scatter]]:
    """The eligible configurations' individual seeds against ``key``, as faint dots."""
    t = np.flatnonzero(ok[s.trial_group] & np.isfinite(s.trial_points).all(axis=1))
    return [(r, go.Scatter(
        x=_plain(np.asarray(s.trial_params[key])[t]),
        y=s.trial_points[t, r - 1].tolist(),
        mode="markers",
        marker={"color": "#555", "size": 4, "opacity": 0.35},
        hoverinfo="skip",
        showlegend=False,
    )) for r in range(1, len(info.objectives) + 1)]


def _sort_key(value: object) -> tuple[int, float, str]:
    f = as_float(value)
    return (0, f, "") if math.isfinite(f) else (1, 0.0, str(value))


def _plain(values: np.ndarray) -> list[Any]:
    """JSON-friendly list (numpy scalars to Python; non-numbers to text)."""
    out: list[Any] = []
    for v in np.asarray(values).tolist():
        out.append(v if isinstance(v, (int, float, str)) else str(v))
    return out


# ----------------------------------------------------------------------------------------------
# Summary tables.


def summary_html(info: ParetoInfo) -> str:
    """Hypervolume per sweep and each front's configurations as HTML tables."""
    ref = ", ".join(
        f"{o.name}={format_value(v)}" + ("" if o.ref is not None else " (derived)")
        for o, v in zip(info.objectives, info.reference, strict=True)
    )
    rows = []
    for s in info.series:
        rows.append(
            "<tr>"
            f"<td>{html.escape(s.sweep)}</td>"
            f"<td class='num'>{len(s.trial_ids)}</td>"
            f"<td class='num'>{int(s.eligible.sum())} / {len(s.group_ids)}</td>"
            f"<td class='num'>{int(s.on_front.sum())}</td>"
            f"<td class='num'>{s.hypervolume:.4g}</td>"
            "</tr>"
        )
    parts = [
        "<table><thead><tr><th>sweep</th><th>trials</th><th>eligible configurations</th>"
        "<th>front size</th><th>hypervolume</th></tr></thead><tbody>",
        *rows,
        "</tbody></table>",
        f"<p class='note'>Hypervolume reference point: {html.escape(ref)}.</p>",
    ]
    for s in info.series:
        path = info.front_path(s)
        if not len(path):
            continue
        head = "".join(f"<th>{html.escape(o.label)}</th>" for o in info.objectives)
        body = "".join(
            "<tr><td>"
            + html.escape(s.labels[g] or s.group_ids[g])
            + "</td>"
            + "".join(
                f"<td class='num'>{format_value(s.points[g, j])} ± "
                f"{format_spread(s.spread[g, j])}</td>"
                for j in range(len(info.objectives))
            )
            + f"<td class='num'>{int(s.n_replicates[g])}</td></tr>"
            for g in path
        )
        parts.append(
            f"<details open><summary>Front of {html.escape(s.sweep)}</summary><table><thead>"
            f"<tr><th>configuration</th>{head}<th>seeds</th></tr></thead><tbody>{body}"
            "</tbody></table></details>"
        )
    return "\n".join(parts)
