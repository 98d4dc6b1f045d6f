"""`ambientsweep extractor export/import/show`, and `report`/`pareto` refusing mixed extractors
(on a real MLflow SQLite store written by the tracking classes)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch
import yaml
from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.config import DataConfig
from ambientsweep.data import load_splits
from ambientsweep.metrics import extractor_files as files
from ambientsweep.metrics import features
from ambientsweep.metrics.names import EXTRACTOR_DIGEST
from ambientsweep.tracking.mlflow_log import (
    MlflowTrialReporter,
    default_uri,
    load_results,
)
from tests.conftest import NON_DEFAULT_DATA
from tests.mlflow_store import toy_sweep

CPU = torch.device("cpu")
SHIPPED = files.SHIPPED_DIGITS_CNN


def _no_training(*args: object, **kwargs: object) -> None:
    raise AssertionError("the feature CNN was trained")


# ----------------------------------------------------------------------------------------------
# export -> import


def test_export_then_import_pins_the_extractor_in_another_cache(
    trained_cnn_cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runner = CliRunner()
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump({"data": NON_DEFAULT_DATA}))
    out = tmp_path / "team" / "digits_split1.pt"
    # Machine A: the extractor its cache holds for these settings.
    source = tmp_path / "cache_a"
    shutil.copytree(trained_cnn_cache, source)
    monkeypatch.setenv("AMBIENTSWEEP_CACHE", str(source))
    monkeypatch.setattr(features, "train_digits_cnn", _no_training)
    res = runner.invoke(app, ["extractor", "export", str(out), "--from", str(base),
                              "-w", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    (entry,) = (source / "features").glob("digits_cnn-*.pt")
    digest = files.read_record(entry).digest
    assert f"digest      {digest}" in res.output and "the cache extractor" in res.output
    assert files.read_record(out).settings["data"]["split_seed"] == 1

    # Machine B: empty cache; import, then trials with those settings use it without training.
    target = tmp_path / "cache_b"
    monkeypatch.setenv("AMBIENTSWEEP_CACHE", str(target))
    res = runner.invoke(app, ["extractor", "import", str(out), "-w", str(tmp_path / "b")])
    assert res.exit_code == 0, res.output
    assert "installed in" in res.output
    splits = load_splits(DataConfig(**NON_DEFAULT_DATA), seed=0, replicate=0)
    feats = features.load_or_train_cnn(splits, target, CPU)
    assert feats.source == "cache" and feats.digest == digest
    res = runner.invoke(app, ["extractor", "import", str(out), "-w", str(tmp_path / "b")])
    assert res.exit_code == 0 and "already installed" in res.output

    # Another extractor for the same settings is refused unless --replace.
    record = files.read_record(out)
    other = files.ExtractorRecord(record.name, record.data_key, record.header,
                                  {k: v * 1.01 for k, v in record.state.items()}).sealed()
    other_file = files.write_record(other, tmp_path / "other.pt")
    res = runner.invoke(app, ["extractor", "import", str(other_file), "-w", str(tmp_path / "b")])
    assert res.exit_code == 2
    assert digest in res.output and other.digest in res.output and "--replace" in res.output
    res = runner.invoke(app, ["extractor", "import", str(other_file), "-w", str(tmp_path / "b"),
                              "--replace"])
    assert res.exit_code == 0 and "replaced" in res.output
    assert features.load_or_train_cnn(splits, target, CPU).digest == other.digest

    res = runner.invoke(app, ["extractor", "show", str(out)])
    assert res.exit_code == 0 and digest in res.output


def test_import_verifies_the_digest_and_writes_nothing_when_damaged(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    raw = torch.load(SHIPPED.path, weights_only=True)
    raw["data_key"] = "0123456789abcdef"  # as if for other settings
    name = next(iter(raw["state"]))
    raw["state"][name] = raw["state"][name] * 0.5
    damaged = tmp_path / "damaged.pt"
    torch.save(raw, damaged)
    monkeypatch.setenv("AMBIENTSWEEP_CACHE", str(tmp_path / "cache"))
    res = CliRunner().invoke(app, ["extractor", "import", str(damaged), "-w", str(tmp_path)])
    assert res.exit_code == 2 and "do not match their digest" in res.output
    assert not (tmp_path / "cache").exists()


def test_default_settings_export_the_shipped_extractor(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AMBIENTSWEEP_CACHE", str(tmp_path / "cache"))
    monkeypatch.setattr(features, "train_digits_cnn", _no_training)
    out = tmp_path / "default.pt"
    runner = CliRunner()
    res = runner.invoke(app, ["extractor", "export", str(out), "-w", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert "the shipped extractor" in res.output
    assert files.read_record(out).digest == SHIPPED.digest
    res = runner.invoke(app, ["extractor", "import", str(out), "-w", str(tmp_path)])
    assert res.exit_code == 0 and "shipped default extractor: nothing to install" in res.output
    # A different extractor for the default settings would never be used: refused.
    record = files.read_record(out)
    other = files.ExtractorRecord(record.name, record.data_key, record.header,
                                  {k: v * 1.01 for k, v in record.state.items()}).sealed()
    res = runner.invoke(app, ["extractor", "import",
                              str(files.write_record(other, tmp_path / "o.pt")),
                              "-w", str(tmp_path)])
    assert res.exit_code == 2 and SHIPPED.digest in res.output and other.digest in res.output
    assert not (tmp_path / "cache").exists()


# ----------------------------------------------------------------------------------------------
# report / pareto refuse mixed extractors

DIGEST_A = "a" * 64
DIGEST_B = "b" * 64


def _store(workdir: Path, digests: dict[int, str]) -> None:
    """A finished 2-point x 2-replicate sweep; replicate r's trials record ``digests[r]``."""
    fd = {0.1: 200.0, 0.2: 100.0}

    def log(reporter: MlflowTrialReporter, cf: float, rep: int) -> None:
        reporter.set_tags({EXTRACTOR_DIGEST: digests[rep]})  # as run_trial does
        reporter.report({"fd_digits_cnn": fd[cf] + 10 * rep, "mem_ratio_pixels": 0.01 * rep},
                        step=128000)

    toy_sweep(workdir, log)


def test_the_digest_is_a_column_of_the_results_and_the_exports(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir, {0: DIGEST_A, 1: DIGEST_A})
    df = load_results(default_uri(workdir), "toy")
    assert set(df[EXTRACTOR_DIGEST]) == {DIGEST_A}
    out = tmp_path / "exports"
    res = CliRunner().invoke(app, ["pareto", "toy", "-w", str(workdir), "-f", "csv,json",
                                   "--out", str(out)])
    assert res.exit_code == 0, res.output
    header = (out / "pareto_trials.csv").read_text().splitlines()[0].split(",")
    assert EXTRACTOR_DIGEST in header
    summary = json.loads((out / "pareto_summary.json").read_text())
    assert summary["extractor_digests"] == {"toy": [DIGEST_A]} and summary["warnings"] == []
    res = CliRunner().invoke(app, ["report", "toy", "-w", str(workdir)])
    assert res.exit_code == 0 and "warning" not in res.output


def test_report_and_pareto_refuse_mixed_extractors_naming_both(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir, {0: DIGEST_A, 1: DIGEST_B})
    runner = CliRunner()
    for args in (["report", "toy"], ["pareto", "toy", "-f", "json", "--out",
                                     str(tmp_path / "x")]):
        res = runner.invoke(app, [*args, "-w", str(workdir)])
        assert res.exit_code == 2, res.output
        text = " ".join(res.output.split())
        assert DIGEST_A in text and DIGEST_B in text, text
        assert "fd_digits_cnn" in text and "--allow-mixed-extractors" in text
        assert "mem_ratio_pixels" not in text.split("refusing")[1].split(":")[1]
    assert not (tmp_path / "x").exists()  # nothing half-written


def test_the_flag_allows_mixing_with_a_warning_in_the_output(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir, {0: DIGEST_A, 1: DIGEST_B})
    runner = CliRunner()
    res = runner.invoke(app, ["report", "toy", "-w", str(workdir), "--allow-mixed-extractors"])
    assert res.exit_code == 0, res.output
    first = res.output.splitlines()[0]
    assert first.startswith("> **warning**: fd_digits_cnn") and DIGEST_A in first \
        and DIGEST_B in first
    assert "| sfbd | 0.1 | 2 | 205 ± 7 |" in res.output  # the table is still made
    out = tmp_path / "exports"
    res = runner.invoke(app, ["pareto", "toy", "-w", str(workdir), "-f", "json", "--out",
                              str(out), "--allow-mixed-extractors"])
    assert res.exit_code == 0, res.output
    assert "warning: fd_digits_cnn" in res.output and DIGEST_B in res.output
    summary = json.loads((out / "pareto_summary.json").read_text())
    assert summary["extractor_digests"] == {"toy": [DIGEST_A, DIGEST_B]}
    assert len(summary["warnings"]) == 1 and DIGEST_A in summary["warnings"][0]


def test_pixel_metrics_alone_are_never_refused(tmp_path: Path) -> None:
    workdir = tmp_path / "runs"
    _store(workdir, {0: DIGEST_A, 1: DIGEST_B})
    res = CliRunner().invoke(app, ["report", "toy", "-w", str(workdir), "-m", "mem_ratio_pixels"])
    assert res.exit_code == 0 and "warning" not in res.output
