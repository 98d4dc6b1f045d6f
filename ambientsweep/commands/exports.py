"""Pareto exports of finished sweeps: files in the sweep folder, the same logged to MLflow.

Glue between the tracking store (results table), ``ambientsweep.analysis`` (compute, draw) and
the parent run (figures, CSV, hypervolume, front tags on the child runs).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ambientsweep.analysis.formats import RUN_FORMATS
from ambientsweep.errors import UserError
from ambientsweep.metrics import names
from ambientsweep.tracking.uri import store_uri
from ambientsweep.workdir import JOURNAL_NAME, sweep_paths

if TYPE_CHECKING:
    from ambientsweep.commands.run import Plan
    from ambientsweep.tracking.mlflow_log import SweepTracking

def _objectives(spec: dict[str, Any]) -> list[tuple[str, str, float | None]]:
    return [(o["metric"], o.get("direction") or names.direction(o["metric"]), o.get("ref"))
            for o in spec["objectives"]]


def _front_run_ids(frames: dict[str, pd.DataFrame], objectives: list) -> tuple[list[str], dict]:
    from ambientsweep.analysis.aggregate import compute_pareto, trials_table

    info = compute_pareto(frames, objectives)
    table = trials_table(frames, info)
    return list(table.loc[table["on_front"], "run_id"].astype(str)), info.hypervolumes


def _log(tracking: SweepTracking, frames: dict[str, pd.DataFrame], objectives: list,
         written: dict[str, Path]) -> None:
    for p in written.values():
        tracking.log_artifact(p, "pareto")
    front, hv = _front_run_ids(frames, objectives)
    tracking.tag_front(front)
    tracking.log_metrics({names.HYPERVOLUME: hv[tracking.sweep],
                          names.FRONT_SIZE: float(len(front))})


def importance_and_log(sweep_dir: Path, objectives: list[str], out: Path,
                       tracking: SweepTracking | None) -> dict[str, Path]:
    """Hyperparameter importance per objective from the sweep's Optuna study (none for a
    grid sweep): table and bar chart into `out`, logged to the parent run."""
    if not (Path(sweep_dir) / JOURNAL_NAME).is_file():  # a grid sweep: Optuna not imported
        return {}
    from ambientsweep.search.importance import write_importance
    from ambientsweep.search.study import journal_path, load_study

    study = load_study(journal_path(sweep_dir))
    if study is None:
        return {}
    written = write_importance(study, objectives, out)
    if tracking is not None:
        for p in written.values():
            tracking.log_artifact(p, "importance")
    return written


def export_and_log(plan: Plan, tracking: SweepTracking,
                   formats: list[str] | tuple[str, ...] = RUN_FORMATS) -> dict[str, Path]:
    """End of a sweep: `formats` into <sweep>/exports, logged to the parent run."""
    from ambientsweep.analysis.export import export_pareto
    from ambientsweep.tracking.mlflow_log import load_results

    df = load_results(plan.uri, plan.experiment, plan.spec.name, tracking.parent_run_id)
    if df.empty:
        return {}
    objectives = [(o.metric, o.mode, o.ref) for o in plan.spec.objectives]
    frames = {plan.spec.name: df}
    written = export_pareto(frames, objectives, list(formats), plan.paths.exports)
    _log(tracking, frames, objectives, written)
    written.update(importance_and_log(plan.paths.sweep_dir, plan.spec.metric_names,
                                      plan.paths.exports, tracking))
    return written


def _stderr(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr)


def resolve_sweep(sweep: str, workdir: Path) -> tuple[str, str, dict[str, Any]]:
    """(sweep name, MLflow experiment, saved spec) from a sweep file or a sweep name."""
    p = Path(sweep)
    name = sweep
    if p.suffix in (".yaml", ".yml") or p.is_file():
        from ambientsweep.spec import load_sweep

        name = load_sweep(p, allow_large=True).spec.name  # caps are for running, not reading
    paths = sweep_paths(workdir, name)
    saved = paths.sweep_dir / "spec.json"
    if not saved.is_file():
        raise UserError(f"no sweep {name!r} in {paths.root} (run it first, or check --workdir)")
    from ambientsweep.versions import check_version, read_json_version

    version = read_json_version(paths.state_file) or read_json_version(saved)
    check_version(version, "export", f"sweep folder {paths.sweep_dir}")
    spec = json.loads(saved.read_text())["spec"]
    return name, (spec.get("tracking") or {}).get("experiment") or name, spec


def sweep_results(uri: str, experiment: str, name: str,
                  workdir: Path) -> tuple[pd.DataFrame, str | None]:
    """The trials of the work dir's sweep `name` and its parent run id: under its own parent
    (found by the sweep folder's id), so another work dir's sweep of the same name on a shared
    server stays out. The parent is None for records older than the parent run."""
    from ambientsweep.tracking.mlflow_log import load_results, sweep_parent

    parent = sweep_parent(uri, experiment, name, sweep_paths(workdir, name).sweep_id)
    return load_results(uri, experiment, name, parent), parent


def load_sweep_results(uri: str, experiment: str, name: str, workdir: Path) -> pd.DataFrame:
    """The trials of :func:`sweep_results`, without the parent."""
    return sweep_results(uri, experiment, name, workdir)[0]


def export_sweeps(sweeps: list[str], *, formats: list[str], out: Path | None, workdir: Path,
                  tracking_uri: str | None, color_by: str | None,
                  allow_mixed_extractors: bool = False,
                  warn: Callable[[str], None] | None = None,
                  style: str = "default") -> dict[str, Path]:
    """`ambientsweep pareto/dashboard`: one series per sweep; a single sweep is also re-logged
    to its MLflow parent run.

    Objectives made with different feature extractors are refused
    (:func:`~ambientsweep.analysis.extractors.check_extractors`) unless
    ``allow_mixed_extractors``; then each warning goes to ``warn`` (default: stderr) and into
    the JSON summary.
    """
    from ambientsweep.analysis.export import export_pareto
    from ambientsweep.analysis.extractors import check_extractors
    from ambientsweep.tracking.mlflow_log import SweepTracking

    uri = store_uri(workdir, tracking_uri, existing=True)
    frames: dict[str, pd.DataFrame] = {}
    specs, experiments, parents = {}, {}, {}
    for s in sweeps:
        name, experiment, spec = resolve_sweep(s, workdir)
        df, parents[name] = sweep_results(uri, experiment, name, workdir)
        if df.empty:
            raise UserError(f"sweep {name!r} has no trials in {uri}")
        frames[name], specs[name], experiments[name] = df, spec, experiment
    first = next(iter(specs.values()))
    objectives = _objectives(first)
    for name, spec in specs.items():
        if [o[0] for o in _objectives(spec)] != [o[0] for o in objectives]:
            raise UserError(f"sweep {name!r} has other objectives than {next(iter(specs))!r}; "
                            "fronts can only be compared on the same metrics")
    if out is None:
        out = sweep_paths(workdir, next(iter(frames))).exports
        if len(frames) > 1:
            out = out.parent / ("compare-" + "-".join(frames))
    stem = "pareto" if len(frames) == 1 else "pareto_" + "_vs_".join(frames)
    together = pd.concat([df.assign(sweep=name) for name, df in frames.items()],
                         ignore_index=True)
    warnings = check_extractors(together, [o[0] for o in objectives],
                                allow_mixed=allow_mixed_extractors, action="compare")
    for w in warnings:
        (warn or _stderr)(w)
    try:
        written = export_pareto(frames, objectives, formats, Path(out), color_by, stem=stem,
                                warnings=warnings, style=style)
    except KeyError as e:
        raise UserError(str(e).strip("'\"")) from None
    if len(frames) == 1:
        name = next(iter(frames))
        tracking = SweepTracking(uri, experiments[name], name, None)
        # The parent the trials were read from (a finished parent is never reopened), so
        # another work dir's sweep of the same name is not touched.
        found = parents[name]
        if found:
            tracking.parent_run_id = found
            _log(tracking, frames, objectives, written)
        written.update(importance_and_log(sweep_paths(workdir, name).sweep_dir,
                                          [o[0] for o in objectives], Path(out),
                                          tracking if found else None))
    return written


# Extra metrics a report shows by default, where the trials logged them.
REPORT_EXTRAS = ("mem_unique_pixels", "conf90", "holes_contrast", "psnr_denoised")


REPORT_FORMATS = ("markdown", "latex")


def _seed_hypervolumes(frames: list[pd.DataFrame], objectives: list) -> pd.DataFrame | None:
    """Mean ± std over seeds of each seed's front's hypervolume; None without replicates."""
    from ambientsweep.analysis.seeds import hypervolume_per_seed, hypervolume_summary

    tables = {str(f["sweep"].iloc[0]): f for f in frames}
    if len(objectives) < 2 or all(f["replicate"].nunique() < 2 for f in tables.values()):
        return None
    try:
        return hypervolume_summary(hypervolume_per_seed(tables, objectives))
    except (KeyError, ValueError):  # an objective no trial logged: the summary says so
        return None


def _renderer(fmt: str, ci: float | None) -> Any:
    """``render(table, caption)``: markdown or LaTeX, ± std or ± the t-interval half width."""
    from ambientsweep.analysis.latex import latex, with_interval
    from ambientsweep.analysis.report import markdown

    if fmt not in REPORT_FORMATS:
        raise UserError(f"--format: unknown {fmt!r}; allowed: {', '.join(REPORT_FORMATS)}")
    if fmt == "latex":
        return lambda table, caption: latex(table, ci=ci, caption=caption)
    if ci is None:
        return lambda table, caption: (f"{caption}:\n\n" if caption else "") + markdown(table)
    note = f"(± is the {ci * 100:g} % Student-t interval over the n seeds)\n"
    return lambda table, caption: ((f"{caption}:\n\n" if caption else "")
                                   + markdown(with_interval(table, ci)) + note)


def report_sweeps(sweeps: list[str], *, metrics: list[str], history: list[str], workdir: Path,
                  tracking_uri: str | None, fmt: str = "markdown", ci: float | None = None,
                  allow_mixed_extractors: bool = False) -> str:
    """`ambientsweep report`: tables of seed means and standard deviations (or intervals).

    One summary table over all the given sweeps (the objectives of the first plus
    :data:`REPORT_EXTRAS` that were logged, or exactly `metrics`), then one table per metric
    in `history` with its value at every logged step (e.g. per SFBD round). ``fmt`` is
    markdown or latex (booktabs); ``ci`` a level (0.95) for ± Student-t intervals. Metrics of
    finished trials made with different feature extractors are refused unless
    ``allow_mixed_extractors``; then the text starts with a warning naming the digests.
    """
    from ambientsweep.analysis.aggregate import finished_trials
    from ambientsweep.analysis.extractors import check_extractors
    from ambientsweep.analysis.report import history_table, summary_table

    render = _renderer(fmt, ci)
    from ambientsweep.tracking.mlflow_log import load_history

    unknown = [m for m in [*metrics, *history] if not names.is_known_metric(m)]
    if unknown:
        raise UserError(f"unknown metric(s) {', '.join(unknown)}; known: "
                        f"{', '.join(names.KNOWN_METRICS)}")
    uri = store_uri(workdir, tracking_uri, existing=True)
    frames, first_spec = [], None
    for s in sweeps:
        name, experiment, spec = resolve_sweep(s, workdir)
        df = load_sweep_results(uri, experiment, name, workdir)
        if df.empty:
            raise UserError(f"sweep {name!r} has no trials in {uri}")
        frames.append(df)
        first_spec = first_spec or spec
    df = pd.concat(frames, ignore_index=True)
    if len(frames) == 1:
        df = df.drop(columns=["sweep"])
    if not metrics:
        metrics = [o[0] for o in _objectives(first_spec or {})]
        metrics += [m for m in REPORT_EXTRAS if m in df.columns and m not in metrics]
    missing = [m for m in metrics if m not in df.columns]
    if missing:
        raise UserError(f"no trial of {', '.join(sweeps)} logged {', '.join(missing)}")
    warnings = check_extractors(finished_trials(df), [*metrics, *history],
                                allow_mixed=allow_mixed_extractors, action="aggregate")
    parts = [f"> **warning**: {w}\n" for w in warnings]
    parts.append(render(summary_table(df, metrics), None))
    seeds = _seed_hypervolumes(frames, _objectives(first_spec or {}))
    if seeds is not None:
        parts.append(render(seeds, "Hypervolume of each seed's front (replicate index), "
                                   "against the pooled front's reference point"))
    if history:
        runs = df["run_id"].astype(str).tolist()
        long = load_history(uri, runs, [*history, names.ROUND])
        for m in history:
            table = history_table(df, long, m)
            if table.empty:
                raise UserError(f"no finished trial of {', '.join(sweeps)} logged {m}")
            parts.append(render(table, f"{m} per logged step"))
    return "\n".join(parts)
