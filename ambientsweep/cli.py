"""The `ambientsweep` command line. Parses and prints; behaviour lives in the modules it calls."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any, TypeVar

import typer

from ambientsweep.analysis.formats import FORMATS, RUN_FORMATS, parse_formats
from ambientsweep.errors import UserError
from ambientsweep.search import algorithms
from ambientsweep.workdir import DEFAULT_WORKDIR

app = typer.Typer(
    name="ambientsweep",
    help="Sweeps of diffusion models trained on corrupted data (SFBD, Ambient Diffusion, "
    "high-noise ambient training) with fidelity-memorization Pareto fronts.\n\n"
    "Exit status: 0 done (every trial complete or pruned), 3 the sweep finished but some "
    "trials failed, 1 it could not finish, 2 bad file or usage, 130 interrupted.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

T = TypeVar("T")

WorkdirOpt = Annotated[Path, typer.Option("--workdir", "-w", help="Work dir: MLflow store, "
                                          "caches and one folder per sweep.")]
SweepArg = Annotated[Path, typer.Argument(help="A sweep file (sweeps/*.yaml).")]
SweepsArg = Annotated[list[str], typer.Argument(help="Sweep files or names (one table).")]
TrackingUriOpt = Annotated[str | None, typer.Option(help="MLflow tracking URI (default: the "
                                                    "work dir's SQLite store).")]
AllowLargeOpt = Annotated[bool, typer.Option(
    "--allow-large", help="Lift the caps on trials, replicates, grid points and per-trial "
    "budgets (kimg, samples, resolution, model size) for a real large sweep.")]
FORMAT_HELP = f"Comma-separated: {','.join(FORMATS)}."
TableOutOpt = Annotated[Path | None, typer.Option(help="Also write the table(s) to this file.")]
AllowMixedOpt = Annotated[bool, typer.Option(
    "--allow-mixed-extractors", help="Aggregate or compare metrics made with different feature "
    "extractors (refused by default), with a warning in the output.")]


def _print_version(value: bool) -> None:
    if value:
        from ambientsweep import __version__

        typer.echo(f"ambientsweep {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: Annotated[bool, typer.Option("--version", callback=_print_version,
                                                is_eager=True, help="Print the version and "
                                                "exit.")] = False) -> None:
    """Options before any command (``--version``, shell completion)."""


def _fail(message: str) -> None:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    raise typer.Exit(code=2)


def _warn(message: str) -> None:
    typer.secho(f"warning: {message}", fg=typer.colors.YELLOW, err=True)


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except UserError as e:
        _fail(str(e))
        raise AssertionError from None  # unreachable


def _echo_and_save(text: str, out: Path | None) -> None:
    """Print `text`; also write it to `out` (parents created) when given."""
    if out is not None:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text)
    typer.echo(text, nl=False)


@app.command()
def validate(sweeps: Annotated[list[Path], typer.Argument(help="Sweep files to check.")],
             allow_large: AllowLargeOpt = False) -> None:
    """Check sweep files (and their base configs) without running anything."""
    from ambientsweep.spec import load_sweep
    from ambientsweep.spec.load import grid_points

    for path in sweeps:
        loaded = _guard(lambda path=path: load_sweep(path, allow_large=allow_large))
        spec = loaded.spec
        n = (f"{len(grid_points(spec))} grid points" if spec.search.algorithm == algorithms.GRID
             else f"{spec.search.num_trials} {spec.search.algorithm} trials")
        typer.echo(f"ok  {path}: sweep {spec.name!r} ({loaded.method_kind}), {n} x "
                   f"{spec.replicates} replicate(s), objectives {', '.join(spec.metric_names)}")


@app.command()
def plan(
    sweep: SweepArg,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    max_trials: Annotated[int | None, typer.Option(help="Run at most this many trials.")] = None,
    smoke: Annotated[bool, typer.Option(help="Tiny budget, at most 2 trials.")] = False,
    allow_large: AllowLargeOpt = False,
) -> None:
    """Dry run: the trials, resources asked against available, work dir, estimated duration."""
    from ambientsweep.commands.plan import describe_plan
    from ambientsweep.commands.run import make_plan

    p = _guard(lambda: make_plan(sweep, workdir=workdir, max_trials=max_trials, smoke=smoke,
                                 allow_large=allow_large))
    _guard(lambda: describe_plan(p, out=sys.stdout))


@app.command()
def run(
    sweep: SweepArg,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    address: Annotated[str | None, typer.Option(help="Ray cluster address (default: start a "
                                                "local Ray; RAY_ADDRESS is honoured).")] = None,
    tracking_uri: Annotated[str | None, typer.Option(help="MLflow tracking URI (default: "
                                                     "sqlite in the work dir).")] = None,
    max_trials: Annotated[int | None, typer.Option(help="Run at most this many trials.")] = None,
    smoke: Annotated[bool, typer.Option(help="Tiny budget, at most 2 trials (sweep name "
                                        "gets '-smoke').")] = False,
    resume: Annotated[bool, typer.Option(help="Continue an existing sweep of the same name "
                                         "and spec.")] = True,
    allow_large: AllowLargeOpt = False,
    system_metrics: Annotated[bool, typer.Option(help="Log MLflow system metrics (CPU, "
                                                 "memory, GPU) on every trial; needs psutil "
                                                 "(the system-metrics extra).")] = False,
    format: Annotated[str, typer.Option("--format", "-f", help=f"{FORMAT_HELP} Exports "
                                        "written at the end; the others on demand with "
                                        "`ambientsweep pareto -f`.")] = ",".join(RUN_FORMATS),
) -> None:
    """Run a sweep (or resume it): Ray Tune trials, MLflow records, Pareto exports."""
    import dataclasses

    from ambientsweep.commands.run import make_plan, run_sweep

    try:
        formats = tuple(parse_formats(format))
    except ValueError as e:
        _fail(f"--format: {e}")
    p = _guard(lambda: make_plan(sweep, workdir=workdir, tracking_uri=tracking_uri,
                                 max_trials=max_trials, smoke=smoke, allow_large=allow_large,
                                 system_metrics=system_metrics))
    p = dataclasses.replace(p, formats=formats)
    outcome = _guard(lambda: run_sweep(p, address=address, resume=resume))
    if outcome.exit_code:
        raise typer.Exit(code=outcome.exit_code)


@app.command()
def status(sweep: Annotated[str, typer.Argument(help="Sweep file or sweep name.")],
           workdir: WorkdirOpt = DEFAULT_WORKDIR,
           tracking_uri: TrackingUriOpt = None,
           as_json: Annotated[bool, typer.Option("--json", help="JSON for scripts (stable "
                                                 "keys; see commands/status.py).")] = False,
           ) -> None:
    """A table of the sweep's trials: state, searched params, objectives."""
    from ambientsweep.commands.exports import load_sweep_results, resolve_sweep
    from ambientsweep.commands.status import status_json, status_text
    from ambientsweep.tracking.uri import store_uri

    name, experiment, spec = _guard(lambda: resolve_sweep(sweep, workdir))
    uri = _guard(lambda: store_uri(workdir, tracking_uri, existing=True))
    df = _guard(lambda: load_sweep_results(uri, experiment, name, workdir))
    if as_json:
        objectives = [o["metric"] for o in spec.get("objectives", [])]
        typer.echo(status_json(name, experiment, objectives, df), nl=False)
    else:
        typer.echo(status_text(name, df), nl=False)


@app.command()
def ui(sweep: Annotated[str | None, typer.Argument(help="Sweep name (or experiment) to link "
                                                   "to (default: every sweep in the store).")]
       = None,
       workdir: WorkdirOpt = DEFAULT_WORKDIR,
       host: Annotated[str, typer.Option(help="Bind address (default: this machine only).")]
       = "127.0.0.1",
       port: Annotated[int, typer.Option(help="Port of the MLflow server.")] = 5000,
       open_browser: Annotated[bool, typer.Option("--open", help="Open the first sweep's "
                                                  "trials page in the web browser.")] = False,
       tracking_uri: TrackingUriOpt = None) -> None:
    """Serve the MLflow UI and print each sweep's trials page (runs flat, objectives as columns).

    With an http(s) --tracking-uri nothing is started: the pages are that server's.
    """
    from ambientsweep.commands.ui import ServerError, serve_ui
    from ambientsweep.tracking.uri import store_uri

    uri = _guard(lambda: store_uri(workdir, tracking_uri, existing=True))
    try:
        code = _guard(lambda: serve_ui(uri, host=host, port=port, sweep=sweep,
                                       open_browser=open_browser))
    except ServerError as e:
        typer.secho(f"error: {e}", fg=typer.colors.RED, err=True)
        raise typer.Exit(code=1) from None
    raise typer.Exit(code=code)


@app.command()
def pareto(
    sweeps: Annotated[list[str], typer.Argument(help="Sweep files or names (several: one "
                                                "series each).")],
    format: Annotated[str, typer.Option("--format", "-f", help=FORMAT_HELP)]
    = "png,svg,csv,html",
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the sweep's "
                                             "exports folder).")] = None,
    color_by: Annotated[str | None, typer.Option(help="Searched key that colours points.")]
    = None,
    style: Annotated[str, typer.Option(help="default, or paper: one-column width, serif, "
                                       "vector (figures as pdf and svg unless -f names "
                                       "others).")] = "default",
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    tracking_uri: TrackingUriOpt = None,
    allow_mixed_extractors: AllowMixedOpt = False,
) -> None:
    """Export the fidelity-memorization front of one or more sweeps."""
    from ambientsweep.analysis.paper import PAPER_FORMATS, STYLES

    if style not in STYLES:
        _fail(f"--style: unknown {style!r}; allowed: {', '.join(STYLES)}")
    if style == "paper" and format == "png,svg,csv,html":  # the default list: vector figures
        format = ",".join([*PAPER_FORMATS, "csv"])
    try:
        formats = parse_formats(format)
    except ValueError as e:
        _fail(f"--format: {e}")
    from ambientsweep.commands.exports import export_sweeps

    written = _guard(lambda: export_sweeps(sweeps, formats=formats, out=out, workdir=workdir,
                                           tracking_uri=tracking_uri, color_by=color_by,
                                           allow_mixed_extractors=allow_mixed_extractors,
                                           warn=_warn, style=style))
    for fmt, p in written.items():
        typer.echo(f"{fmt:10s} {p}")


@app.command()
def dashboard(sweep: Annotated[str, typer.Argument(help="Sweep file or name.")],
              out: Annotated[Path | None, typer.Option(help="The .html file to write "
                                                       "(default: the sweep's exports "
                                                       "folder).")] = None,
              workdir: WorkdirOpt = DEFAULT_WORKDIR,
              tracking_uri: TrackingUriOpt = None,
              allow_mixed_extractors: AllowMixedOpt = False) -> None:
    """Write the sweep's self-contained HTML dashboard and print its path."""
    from ambientsweep.commands.exports import export_sweeps

    written = _guard(lambda: export_sweeps([sweep], formats=["html"], out=out, workdir=workdir,
                                           tracking_uri=tracking_uri, color_by=None,
                                           allow_mixed_extractors=allow_mixed_extractors,
                                           warn=_warn))
    typer.echo(str(written["html"]))


@app.command()
def report(
    sweeps: SweepsArg,
    metric: Annotated[list[str] | None, typer.Option("--metric", "-m", help="Metric column "
                      "(repeat; default: the objectives and the usual extras).")] = None,
    history: Annotated[list[str] | None, typer.Option(help="Also tabulate this metric at "
                       "every logged step, e.g. per SFBD round (repeat).")] = None,
    out: TableOutOpt = None,
    format: Annotated[str, typer.Option("--format", "-f", help="markdown, or latex (booktabs "
                      "tables for a paper).")] = "markdown",
    ci: Annotated[bool, typer.Option("--ci", help="± the 95 % Student-t interval over seeds "
                  "instead of ± the standard deviation.")] = False,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    tracking_uri: TrackingUriOpt = None,
    allow_mixed_extractors: AllowMixedOpt = False,
) -> None:
    """Print mean ± std (or ± 95 % CI) over seed replicates per configuration."""
    from ambientsweep.commands.exports import report_sweeps

    text = _guard(lambda: report_sweeps(sweeps, metrics=list(metric or []),
                                        history=list(history or []), workdir=workdir,
                                        tracking_uri=tracking_uri, fmt=format,
                                        ci=0.95 if ci else None,
                                        allow_mixed_extractors=allow_mixed_extractors))
    _echo_and_save(text, out)


@app.command()
def commitment(
    sweeps: SweepsArg,
    n: Annotated[int, typer.Option("-n", help="Samples per trial.")] = 500,
    seed: Annotated[int, typer.Option(help="Seed of the sampling noise.")] = 0,
    level: Annotated[list[float] | None, typer.Option(help="Also give the share of copies "
                     "decided at sigma >= this (repeat; default 0.5, 1, 2, 4).")] = None,
    out: TableOutOpt = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    tracking_uri: TrackingUriOpt = None,
) -> None:
    """At which noise level do memorized samples commit to the image they copy? Samples every
    finished trial again; mean ± std over seed replicates per configuration."""
    from ambientsweep.commands.commitment import commitment_sweeps

    levels = list(level or [0.5, 1.0, 2.0, 4.0])
    text = _guard(lambda: commitment_sweeps(sweeps, n=n, seed=seed, levels=levels,
                                            workdir=workdir, tracking_uri=tracking_uri))
    _echo_and_save(text, out)


@app.command()
def sample(
    trial: Annotated[Path, typer.Argument(help="A trial folder (…/sweeps/<name>/trials/<id>) "
                                          "or its checkpoint.pt.")],
    n: Annotated[int, typer.Option("-n", help="Number of samples.")] = 64,
    out: Annotated[Path | None, typer.Option(help="Output folder (default: the trial's).")]
    = None,
    seed: Annotated[int, typer.Option(help="Seed of the sampling noise.")] = 0,
) -> None:
    """Write N samples of a finished trial's EMA model: a PNG grid and an .npz."""
    from ambientsweep.commands.sample import sample_trial

    paths = _guard(lambda: sample_trial(trial, n=n, out=out, seed=seed))
    for p in paths:
        typer.echo(str(p))


@app.command()
def schema(kind: Annotated[str, typer.Argument(help="sweep or config")] = "sweep") -> None:
    """Print the JSON Schema of sweep files (or of base configs) for editor completion."""
    from ambientsweep.config import TrialConfig
    from ambientsweep.spec.schema import SweepSpec

    models: dict[str, Any] = {"sweep": SweepSpec, "config": TrialConfig}
    if kind not in models:
        _fail(f"schema: unknown {kind!r}; allowed: sweep, config")
    typer.echo(json.dumps(models[kind].model_json_schema(), indent=2))


@app.command("fetch-weights")
def fetch_weights(
    name: Annotated[str, typer.Argument(help="inception (clean-fid's Inception-v3).")],
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
) -> None:
    """Download feature-extractor weights into the work dir's cache (needs internet)."""
    from ambientsweep.metrics.weights import fetch_weights as fetch

    t0 = time.monotonic()
    from ambientsweep.workdir import sweep_paths

    cache = sweep_paths(workdir, "fetch").cache  # the cache every sweep of this work dir uses
    path = _guard(lambda: fetch(name, cache))
    typer.echo(f"{name}: {path} ({time.monotonic() - t0:.1f} s)")


extractor_app = typer.Typer(
    help="Feature extractors behind fd_digits_cnn: make the shipped default, export the one a "
    "sweep uses, import a pinned one into the cache.", no_args_is_help=True)
app.add_typer(extractor_app, name="extractor")


def _cache_of(workdir: Path) -> Path:
    from ambientsweep.workdir import sweep_paths

    return sweep_paths(workdir, "extractor").cache  # the cache every sweep of this work dir uses


@extractor_app.command("make-default")
def extractor_make_default(
    out: Annotated[Path, typer.Argument(help="Where to write it (the shipped file is "
                                        "ambientsweep/metrics/data/digits_cnn_default.pt).")],
) -> None:
    """Train the default settings' digits_cnn (one CPU thread, seeded) and write it."""
    from ambientsweep.commands.extractor import describe, make_default

    t0 = time.monotonic()
    record = _guard(lambda: make_default(out))
    typer.echo(describe(record), nl=False)
    typer.echo(f"wrote {out} ({time.monotonic() - t0:.1f} s); record data key and digest in "
               "ambientsweep/metrics/extractor_files.py SHIPPED_DIGITS_CNN to ship it")


@extractor_app.command("export")
def extractor_export(
    out: Annotated[Path, typer.Argument(help="The extractor file to write.")],
    source: Annotated[Path | None, typer.Option("--from", help="Sweep file or base config "
                                                "whose data settings pick the extractor "
                                                "(default: the default settings).")] = None,
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
) -> None:
    """Write the digits_cnn that these data settings use (shipped, cached, or trained now)."""
    from ambientsweep.commands.extractor import describe, export_extractor

    record, where = _guard(lambda: export_extractor(out, source=source,
                                                    cache_dir=_cache_of(workdir)))
    typer.echo(describe(record), nl=False)
    typer.echo(f"wrote {out} (the {where} extractor)")


@extractor_app.command("import")
def extractor_import(
    file: Annotated[Path, typer.Argument(help="An extractor file (from `extractor export`).")],
    workdir: WorkdirOpt = DEFAULT_WORKDIR,
    replace: Annotated[bool, typer.Option(help="Replace another extractor cached for the same "
                                          "settings.")] = False,
) -> None:
    """Verify an extractor file's digest and pin it in the work dir's cache."""
    from ambientsweep.commands.extractor import describe, import_extractor

    record, what = _guard(lambda: import_extractor(file, cache_dir=_cache_of(workdir),
                                                   replace=replace))
    typer.echo(describe(record), nl=False)
    if what == "shipped":
        typer.echo("this is the shipped default extractor: nothing to install")
    else:
        typer.echo(f"{what} in {_cache_of(workdir) / 'features'}")


@extractor_app.command("show")
def extractor_show(
    file: Annotated[Path, typer.Argument(help="An extractor file.")],
) -> None:
    """Verify an extractor file's digest and print what it holds."""
    from ambientsweep.commands.extractor import describe
    from ambientsweep.metrics.extractor_files import read_record

    typer.echo(describe(_guard(lambda: read_record(file))), nl=False)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    main()
