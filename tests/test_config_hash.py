"""The config hash names the experiment, not the machine: execution-only fields leave it alone.

Two configs that differ only in threads, device, data root, compile, memory fraction, logging
or checkpoint cadence share the hash and every seed derived from it; two real trials that differ
only in where the (same) image files live train to identical metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ambientsweep.config import EXECUTION_ONLY, TrialConfig
from ambientsweep.tracking.reporter import ListReporter
from ambientsweep.trial import run_trial
from ambientsweep.utils.seeding import derive_seed

BASE = {
    "data": {"name": "imagefolder", "root": "/data/a", "train_size": 40,
             "reference_size": 20, "classifier_size": None},
    "model": {"backbone": "mlp", "mlp_hidden": 64, "mlp_layers": 3},
    "train": {"kimg": 0.32, "batch_size": 32, "lr_rampup_kimg": 0.1, "log_every_kimg": 0.16},
    "sampler": {"steps": 4},
    "eval": {"num_samples": 32, "features": "pixels", "gallery_size": 2, "save_images": False},
    "method": {"kind": "edm"},
}

# Every execution-only field, set to a value other than its default.
ELSEWHERE = {
    "data.root": "/mnt/cluster/other/place",
    "data.download": True,
    "train.device": "cpu",
    "train.compile": True,
    "train.num_threads": 7,
    "train.gpu_memory_fraction": 0.3,
    "train.checkpoint_every_kimg": 0.05,
    "train.checkpoint_at_eval": False,
    "train.checkpoint_every_minutes": 1.0,
    "train.log_every_kimg": 0.01,
    "eval.save_images": True,
    "eval.gallery_size": 9,
}


def _with(base: dict, dotted: dict) -> TrialConfig:
    cfg = {k: dict(v) if isinstance(v, dict) else v for k, v in base.items()}
    for key, value in dotted.items():
        section, leaf = key.split(".")
        cfg[section][leaf] = value
    return TrialConfig.model_validate(cfg)


def _seeds(cfg: TrialConfig) -> list[int]:
    """The seeds the Trainer derives from the hash (init, training stream, dropout)."""
    h = cfg.config_hash()
    return [derive_seed(cfg.seed, cfg.replicate, h, part) for part in ("init", "train", "dropout")]


def test_every_execution_only_field_is_covered() -> None:
    assert set(ELSEWHERE) == set(EXECUTION_ONLY)


def test_execution_only_fields_leave_hash_and_seeds_alone() -> None:
    here, there = _with(BASE, {}), _with(BASE, ELSEWHERE)
    assert here != there
    assert here.config_hash() == there.config_hash()
    assert here.group_id() == there.group_id()
    assert _seeds(here) == _seeds(there)
    for key, value in ELSEWHERE.items():  # each one alone, too
        assert _with(BASE, {key: value}).config_hash() == here.config_hash(), key


@pytest.mark.parametrize("key,value", [("train.lr", 2e-3), ("train.precision", "bf16"),
                                       ("data.name", "digits"), ("eval.every_kimg", 0.1),
                                       ("sampler.steps", 5), ("data.train_size", 30)])
def test_experiment_fields_change_the_hash(key: str, value: object) -> None:
    here, other = _with(BASE, {}), _with(BASE, {key: value})
    assert other.config_hash() != here.config_hash()
    assert _seeds(other) != _seeds(here)


def test_replicate_changes_hash_not_group() -> None:
    a = _with(BASE, {})
    b = a.model_copy(update={"replicate": 1})
    assert a.config_hash() != b.config_hash()
    assert a.group_id() == b.group_id()


def _write_images(root: Path) -> None:
    from sklearn.datasets import load_digits

    images = load_digits().images[:80]
    root.mkdir(parents=True)
    for i, img in enumerate(images):
        arr = (img / 16.0 * 255).round().astype(np.uint8)
        Image.fromarray(arr, mode="L").save(root / f"{i:03d}.png")


def test_same_files_under_two_roots_train_identically(tmp_path: Path) -> None:
    """Real tiny trials on the same PNGs in two folders: same hash, same history, same
    metrics (same thread count: threads change float rounding, README "Running elsewhere")."""
    roots = [tmp_path / "disk_a" / "digits", tmp_path / "elsewhere" / "deeper" / "copy"]
    for root in roots:
        _write_images(root)
    results, histories, hashes = [], [], []
    threads = torch.get_num_threads()
    try:
        for i, root in enumerate(roots):
            cfg = _with(BASE, {"data.root": str(root), "train.num_threads": 1})
            reporter = ListReporter()
            out = run_trial(cfg, reporter, tmp_path / f"trial{i}", cache_dir=tmp_path / "cache")
            hashes.append(cfg.config_hash())
            results.append({k: v for k, v in out.metrics.items() if not k.endswith("seconds")})
            histories.append(reporter.series("loss"))
    finally:
        torch.set_num_threads(threads)
    assert hashes[0] == hashes[1]
    assert histories[0] == histories[1] and len(histories[0]) >= 2
    assert results[0] == results[1]
    assert "fd_pixels" in results[0] and "mem_ratio_pixels" in results[0]
