"""Bad sweep files and CLI calls: one clear message, exit code 2, nothing written."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ambientsweep.cli import app
from tests.bad_input import QUICK_BASE, assert_refused, write_files

GOOD = {
    "name": "t",
    "base": "base.yaml",
    "space": "\n  method.clean_fraction: {grid: [0.1, 0.2]}",
    "objectives": "\n  - {metric: fd_digits_cnn}\n  - {metric: mem_ratio_pixels}",
}


def sweep_text(**parts: str | None) -> str:
    fields = {**GOOD, **parts}
    return "\n".join(f"{k}: {v}" for k, v in fields.items() if v is not None) + "\n"


# (id, sweep file text, base config text, expected fragments of the message)
CASES: list[tuple[str, str, str, list[str]]] = [
    ("yaml-syntax", "name: [t\nbase: base.yaml\n", QUICK_BASE, ["YAML syntax error", ":"]),
    ("not-a-mapping", "- name\n- base\n", QUICK_BASE, ["must be a YAML mapping"]),
    ("unknown-top-key", sweep_text(objectivs="[]"), QUICK_BASE,
     ["objectivs", "did you mean 'objectives'"]),
    ("misspelled-nested", sweep_text(search="{algoritm: grid}"), QUICK_BASE,
     ["search.algoritm", "did you mean 'algorithm'"]),
    ("wrong-type", sweep_text(replicates="two"), QUICK_BASE, ["replicates", "integer"]),
    ("prob-out-of-range-space", sweep_text(
        method="{kind: ambient}", space="\n  method.p: {grid: [0.2, 1.5]}"), QUICK_BASE,
     ["space.method.p.grid.1", "method.p = 1.5", "less than 1"]),
    ("prob-out-of-range-override", sweep_text(
        method="{kind: sfbd}", overrides="{method.clean_fraction: 1.5}", space="{}",
        search="{algorithm: grid}"), QUICK_BASE, ["overrides", "method.clean_fraction", "1"]),
    ("unknown-method", sweep_text(method="{kind: diffusion}"), QUICK_BASE,
     ["unknown method kind 'diffusion'", "ambient_tn"]),
    ("unknown-metric", sweep_text(objectives="\n  - {metric: fid}"), QUICK_BASE,
     ["unknown metric 'fid'", "fd_digits_cnn"]),
    ("empty-space-optuna", sweep_text(space="{}", search="{algorithm: optuna, num_trials: 3}"),
     QUICK_BASE, ["space is empty"]),
    ("missing-base", sweep_text(base="nope.yaml"), QUICK_BASE, ["nope.yaml", "not found"]),
    ("unknown-config-key", sweep_text(space="\n  train.lrr: {grid: [0.1]}"), QUICK_BASE,
     ["train.lrr", "not a config key", "did you mean 'lr'"]),
    ("unknown-dataset", sweep_text(overrides="{data.name: imagenet}"), QUICK_BASE,
     ["data.name", "digits"]),
    ("grid-with-distribution", sweep_text(space="\n  train.lr: {loguniform: [1e-4, 1e-3]}"),
     QUICK_BASE, ["grid needs grid/choice", "train.lr"]),
    ("loguniform-nonpositive", sweep_text(
        space="\n  train.lr: {loguniform: [0, 1e-3]}", search="{algorithm: optuna, "
        "num_trials: 2}"), QUICK_BASE, ["loguniform needs low > 0"]),
    ("uniform-low-high", sweep_text(
        space="\n  train.lr: {uniform: [0.1, 0.01]}", search="{algorithm: random, "
        "num_trials: 2}"), QUICK_BASE, ["low < high"]),
    ("two-distributions", sweep_text(space="\n  train.lr: {grid: [0.1], uniform: [0, 1]}"),
     QUICK_BASE, ["exactly one of"]),
    ("optuna-no-num-trials", sweep_text(
        space="\n  train.lr: {uniform: [0.001, 0.01]}", search="{algorithm: optuna}"), QUICK_BASE,
     ["num_trials is required"]),
    ("sampler-without-optuna", sweep_text(search="{algorithm: grid, sampler: tpe}"), QUICK_BASE,
     ["sampler applies to algorithm optuna only"]),
    ("negative-gpu", sweep_text(resources="{gpu: -1}"), QUICK_BASE, ["resources.gpu"]),
    ("path-traversal-name", sweep_text(name="../../etc"), QUICK_BASE, ["name must be"]),
    ("conflicting-size", sweep_text(overrides="{data.train_fraction: 0.5}"), QUICK_BASE,
     ["train_size or data.train_fraction, not both"]),
    ("when-unknown", sweep_text(
        space="\n  method.clean_fraction: {grid: [0.1], when: {method.rounds: 2}}"), QUICK_BASE,
     ["when", "method.rounds", "not a searched key"]),
    ("missing-objectives", sweep_text(objectives=None), QUICK_BASE, ["objectives",
                                                              "required key is missing"]),
    ("no-such-file", "", QUICK_BASE, ["no such sweep file"]),
    ("base-unknown-key", sweep_text(), QUICK_BASE + "trian: {kimg: 1}\n", ["base.yaml", "trian",
                                                                     "did you mean 'train'"]),
    ("storage-path-relative", sweep_text(execution="{storage_path: shared/ray}"),
     QUICK_BASE, ["sweep.yaml", "execution.storage_path", "is relative"]),
    ("storage-path-bad-uri", sweep_text(execution="{storage_path: 's3://'}"),
     QUICK_BASE, ["sweep.yaml", "execution.storage_path", "not a storage URI"]),
    ("moasha-metric-not-objective", sweep_text(
        overrides="{eval.every_kimg: 0.16}",
        early_stopping="{scheduler: moasha, metrics: [fd_digits_cnn, psnr_denoised], "
        "grace_kimg: 0.16}"), QUICK_BASE, ["early_stopping.metrics", "psnr_denoised",
                                     "not among the objectives"]),
    ("moasha-single-metric", sweep_text(
        early_stopping="{scheduler: moasha, metric: fd_digits_cnn, grace_kimg: 0.16}"), QUICK_BASE,
     ["moasha ranks on the objectives", "metrics"]),
    ("moasha-no-grace", sweep_text(early_stopping="{scheduler: moasha}"), QUICK_BASE,
     ["exactly one of grace_kimg, grace_fraction, rungs", "got none"]),
    ("moasha-bad-rungs", sweep_text(early_stopping="{scheduler: moasha, rungs: [0.5, 0.2]}"),
     QUICK_BASE, ["rungs must be increasing fractions"]),
    ("moasha-without-evaluations", sweep_text(
        early_stopping="{scheduler: moasha, grace_kimg: 0.16}"), QUICK_BASE,
     ["moasha decides at evaluation points", "eval.every_kimg"]),
    ("asha-without-metric", sweep_text(early_stopping="{scheduler: asha, grace_kimg: 0.16}"),
     QUICK_BASE, ["early_stopping.asha needs `metric`"]),
    ("tn-both-cutoffs", sweep_text(method="{kind: ambient_tn, sigma_tn: 0.5, tn_quantile: 0.5}",
                                   space="{}"), QUICK_BASE, ["exactly one of method.sigma_tn"]),
]


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def test_good_file_validates(tmp_path: Path, runner: CliRunner) -> None:
    path = write_files(tmp_path, sweep_text(), QUICK_BASE)
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 0, res.output
    assert "2 grid points" in res.output


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_bad_sweep_file(case: tuple[str, str, str, list[str]], tmp_path: Path,
                        runner: CliRunner) -> None:
    _, text, base, fragments = case
    path = write_files(tmp_path, text, base)
    workdir = tmp_path / "runs"
    t0 = time.monotonic()
    for cmd in (["validate", str(path)], ["run", str(path), "--workdir", str(workdir)]):
        msg = assert_refused(runner.invoke(app, cmd), fragments, cmd)
        if text:
            assert str(path) in msg or "base.yaml" in msg
    assert time.monotonic() - t0 < 10
    assert not workdir.exists()  # nothing written: no store, no sweep folder


def _bad_cli(tmp_path: Path) -> list[tuple[str, list[str], list[str]]]:
    path = write_files(tmp_path, sweep_text(), QUICK_BASE)
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    cpu = write_files(tmp_path, sweep_text(resources="{cpu: 512}"), QUICK_BASE, "cpu")
    gpu = write_files(tmp_path, sweep_text(resources="{gpu: 8}"), QUICK_BASE, "gpu")
    return [
        ("impossible-cpu", ["run", str(cpu), "--workdir", str(tmp_path / "runs")],
         ["512 CPU", "no node"]),
        ("impossible-gpu", ["run", str(gpu), "--workdir", str(tmp_path / "runs")],
         ["8 GPU", "no node"]),
        ("workdir-is-file", ["run", str(path), "--workdir", str(a_file / "sub")],
         ["is a file"]),
        ("unreachable-tracking", ["run", str(path), "--workdir", str(tmp_path / "runs"),
                                  "--tracking-uri", "http://127.0.0.1:9"], ["not reachable"]),
        ("relative-sqlite", ["run", str(path), "--workdir", str(tmp_path / "runs"),
                             "--tracking-uri", "sqlite:///rel.db"], ["absolute path"]),
        ("file-store-uri", ["run", str(path), "--workdir", str(tmp_path / "runs"),
                            "--tracking-uri", "/tmp/mlruns"], ["sqlite:////abs"]),
        ("pareto-bad-format", ["pareto", str(path), "--format", "gif", "--workdir",
                               str(tmp_path / "runs")], ["gif", "allowed"]),
        ("status-unknown-sweep", ["status", "nosuch", "--workdir", str(tmp_path / "runs")],
         ["no sweep 'nosuch'"]),
        ("ui-no-store", ["ui", "--workdir", str(tmp_path / "runs")], ["no MLflow store"]),
        ("schema-unknown", ["schema", "table"], ["allowed: sweep, config"]),
        ("missing-data-folder", ["run", str(write_files(tmp_path, sweep_text(
            overrides="{data.name: mnist, data.root: /nonexistent/x}"), QUICK_BASE, "data")),
            "--workdir",
            str(tmp_path / "runs")], ["/nonexistent/x", "data.download"]),
        ("unknown-export-format", ["run", str(write_files(tmp_path, sweep_text(), name="fmt")),
                                   "--workdir", str(tmp_path / "runs"), "-f", "png,gif"],
         ["--format", "'gif'", "html"]),
    ]


def test_bad_cli_calls(tmp_path: Path, runner: CliRunner) -> None:
    for name, cmd, fragments in _bad_cli(tmp_path):
        t0 = time.monotonic()
        assert_refused(runner.invoke(app, cmd), fragments, name)
        assert time.monotonic() - t0 < 15, name
        assert not (tmp_path / "runs" / "mlflow.db").exists(), name
        assert not (tmp_path / "runs" / "sweeps").exists(), name


def test_schema_prints_json_schema(runner: CliRunner) -> None:
    import json

    res = runner.invoke(app, ["schema"])
    assert res.exit_code == 0
    schema = json.loads(res.output)
    assert "objectives" in schema["properties"]
    assert schema["additionalProperties"] is False


def test_when_cycle_is_an_error(tmp_path: Path, runner: CliRunner) -> None:
    text = sweep_text(space="\n  train.lr: {grid: [0.1], when: {train.batch_size: 8}}"
                            "\n  train.batch_size: {grid: [8], when: {train.lr: 0.1}}")
    res = runner.invoke(app, ["validate", str(write_files(tmp_path, text, QUICK_BASE))])
    assert_refused(res, ["form a cycle"])
