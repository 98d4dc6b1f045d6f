"""One feature space on every machine: the shipped digits_cnn, digests, the cache for the rest."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

from ambientsweep.config import DataConfig
from ambientsweep.data import Splits, load_splits
from ambientsweep.errors import UserError
from ambientsweep.metrics import extractor_files as files
from ambientsweep.metrics import features
from ambientsweep.metrics.features import CnnConfig, cnn_header, load_or_train_cnn
from tests.conftest import NON_DEFAULT_DATA

CPU = torch.device("cpu")
ROOT = Path(__file__).resolve().parents[2]
SHIPPED = files.SHIPPED_DIGITS_CNN


def _no_training(*args: object, **kwargs: object) -> None:
    raise AssertionError("the feature CNN was trained")


def test_default_settings_use_the_shipped_weights_and_never_train(
    digits_splits: Splits, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(features, "train_digits_cnn", _no_training)
    start = time.perf_counter()
    feats = load_or_train_cnn(digits_splits, tmp_path, CPU)
    assert time.perf_counter() - start < 5.0
    assert feats.source == "shipped" and feats.digest == SHIPPED.digest
    assert list(tmp_path.iterdir()) == []  # the cache is not used, not even created
    # The weights in use are the shipped file's, and they hash to the digest recorded in code.
    header = cnn_header(1, 10, CnnConfig())
    in_use = {k: v.cpu() for k, v in feats.net.state_dict().items()}
    assert files.header_digest("digits_cnn", header, in_use) == SHIPPED.digest
    assert files.read_record(SHIPPED.path).digest == SHIPPED.digest
    assert SHIPPED.path.stat().st_size < 400_000
    assert feats.accuracy is not None and feats.accuracy >= 0.95


def test_shipped_file_is_checked_against_the_recorded_digest(tmp_path: Path) -> None:
    raw = torch.load(SHIPPED.path, weights_only=True)
    name = next(iter(raw["state"]))
    raw["state"][name] = raw["state"][name] + 1e-6  # one weight nudged, digest kept
    damaged = tmp_path / "damaged.pt"
    torch.save(raw, damaged)
    with pytest.raises(UserError, match="do not match their digest"):
        files.read_record(damaged)
    # A valid file that is not the one this version records is refused as the shipped one.
    other = files.Shipped(path=SHIPPED.path, data_key=SHIPPED.data_key, digest="0" * 64)
    with pytest.raises(UserError, match=f"digest {SHIPPED.digest}.*{'0' * 64}"):
        files.read_shipped(other)
    missing = files.Shipped(path=tmp_path / "gone.pt", data_key="k", digest="d")
    with pytest.raises(UserError, match="missing from this installation"):
        files.read_shipped(missing)


def test_wrong_files_are_user_errors(tmp_path: Path) -> None:
    text = tmp_path / "notes.pt"
    text.write_text("hello")
    with pytest.raises(UserError, match="not a feature-extractor file"):
        files.read_record(text)
    torch.save({"a": 1}, tmp_path / "dict.pt")
    with pytest.raises(UserError, match="expected format"):
        files.read_record(tmp_path / "dict.pt")
    with pytest.raises(UserError, match="no such extractor file"):
        files.read_record(tmp_path / "absent.pt")


def _non_default_splits() -> Splits:
    return load_splits(DataConfig(**NON_DEFAULT_DATA), seed=0, replicate=0)


def test_other_settings_train_on_first_use_then_load_from_the_cache(
    trained_cnn_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The fixture trained it (source "trained"); now it comes from the cache, no training."""
    cached = list((trained_cnn_cache / "features").glob("digits_cnn-*.pt"))
    assert len(cached) == 1
    record = files.read_record(cached[0])
    assert record.digest != SHIPPED.digest and record.data_key != SHIPPED.data_key
    monkeypatch.setattr(features, "train_digits_cnn", _no_training)
    start = time.perf_counter()
    again = load_or_train_cnn(_non_default_splits(), trained_cnn_cache, CPU)
    assert time.perf_counter() - start < 5.0
    assert again.source == "cache" and again.digest == record.digest
    assert again.accuracy is not None and again.accuracy >= 0.9


def test_a_cache_entry_from_before_digests_still_loads(
    trained_cnn_cache: Path, tmp_path: Path
) -> None:
    (entry,) = (trained_cnn_cache / "features").glob("digits_cnn-*.pt")
    record = files.read_record(entry)
    legacy = files.cache_path(tmp_path, "digits_cnn", record.data_key)
    legacy.parent.mkdir(parents=True)
    torch.save(record.state, legacy)  # the earlier format: a bare state dict
    feats = load_or_train_cnn(_non_default_splits(), tmp_path, CPU)
    assert feats.source == "cache" and feats.digest == record.digest


_FD_SCRIPT = textwrap.dedent("""\
    import json, sys
    import torch
    from ambientsweep.config import DataConfig, EvalConfig
    from ambientsweep.data import load_splits
    from ambientsweep.metrics import Evaluator
    import ambientsweep

    splits = load_splits(DataConfig(train_size=50), seed=0, replicate=0)
    ev = Evaluator(EvalConfig(save_images=False), splits, cache_dir=sys.argv[1],
                   device=torch.device("cpu"))
    gen = torch.Generator().manual_seed(7)
    samples = (splits.train + 0.3 * torch.randn(50, 1, 8, 8, generator=gen)).clamp(-1, 1)
    metrics, _ = ev(samples, {}, out_dir=None, step=0)
    print(json.dumps({"fd": metrics["fd_digits_cnn"], "digest": ev.extractor_digest,
                      "package": ambientsweep.__file__}))
""")


def test_two_fresh_clones_give_the_same_fd(tmp_path: Path) -> None:
    """Two copies of the package in different folders, each with an empty cache, compute the
    same fd_digits_cnn for the same samples with the shipped extractor."""
    results = []
    for name in ("clone_a", "clone_b/nested"):
        clone = tmp_path / name
        shutil.copytree(ROOT / "ambientsweep", clone / "ambientsweep",
                        ignore=shutil.ignore_patterns("__pycache__"))
        cache = tmp_path / f"cache_{len(results)}"
        res = subprocess.run([sys.executable, "-c", _FD_SCRIPT, str(cache)], cwd=clone,
                             env={"PYTHONPATH": str(clone), "PATH": "/usr/bin:/bin",
                                  "OMP_NUM_THREADS": "1"},
                             capture_output=True, text=True, timeout=300)
        assert res.returncode == 0, res.stderr
        out = json.loads(res.stdout.strip().splitlines()[-1])
        assert out["package"].startswith(str(clone))  # each run used its own copy
        assert not cache.exists()  # nothing trained, nothing cached
        results.append(out)
    assert results[0]["digest"] == results[1]["digest"] == SHIPPED.digest
    assert results[0]["fd"] == results[1]["fd"]


def test_each_trial_records_the_extractor_digest(tmp_path: Path) -> None:
    """run_trial tags its run with the digest beside the fidelity metrics it reports."""
    from ambientsweep.config import TrialConfig
    from ambientsweep.metrics.names import EXTRACTOR_DIGEST
    from ambientsweep.tracking.reporter import ListReporter
    from ambientsweep.trial import run_trial

    cfg = TrialConfig.model_validate({
        "data": {"name": "digits", "train_size": 50},
        "model": {"backbone": "mlp", "mlp_hidden": 32, "mlp_layers": 2},
        "train": {"kimg": 0.064, "batch_size": 32, "lr_rampup_kimg": 0.0,
                  "log_every_kimg": 0.064},
        "sampler": {"steps": 4}, "eval": {"num_samples": 16, "save_images": False},
        "method": {"kind": "edm"}})
    reporter = ListReporter()
    result = run_trial(cfg, reporter, tmp_path / "trial", cache_dir=tmp_path / "cache")
    assert reporter.tags[EXTRACTOR_DIGEST] == SHIPPED.digest
    assert "fd_digits_cnn" in result.metrics
    assert not (tmp_path / "cache").exists()
