"""The Evaluator end to end on digits: copier, held-out digits, keys, pictures."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from ambientsweep.data import Splits
from ambientsweep.metrics import Evaluator, names


def _held_out(splits: Splits) -> torch.Tensor:
    """Pool images (never in the reference split) that are not training images either."""
    flat = splits.classifier.flatten(1)
    in_train = (torch.cdist(flat, splits.train.flatten(1)) == 0).any(dim=1)
    return splits.classifier[~in_train]


def test_perfect_copier_is_memorized(evaluator: Evaluator, digits_splits: Splits) -> None:
    samples = digits_splits.train.repeat(4, 1, 1, 1)
    metrics, paths = evaluator(samples, {"": digits_splits.train}, out_dir=None, step=0)
    assert metrics[names.MEM_RATIO_PIXELS] == 1.0
    assert metrics[names.mem_key("unique", "pixels")] == len(digits_splits.train)
    assert metrics[names.mem_key("sim_p95", "pixels")] == pytest.approx(1.0)
    assert paths == []


def test_held_out_digits_are_not_memorized(evaluator: Evaluator, digits_splits: Splits) -> None:
    held = _held_out(digits_splits)[:300]
    targets = {"": digits_splits.train, "_clean": digits_splits.train[:10]}
    metrics, _ = evaluator(held, targets, out_dir=None, step=0)
    assert metrics[names.MEM_RATIO_PIXELS] < 0.02
    assert metrics[names.mem_key("ratio", "pixels", "_clean")] < 0.02
    assert metrics[names.CLASSIFIER_ACCURACY] >= 0.95
    assert metrics["conf90"] > 0.8
    # Same pixel values, digit structure destroyed: the feature space must tell them apart.
    perm = torch.randperm(64, generator=torch.Generator().manual_seed(0))
    shuffled = held.flatten(1)[:, perm].reshape(held.shape)
    scrambled, _ = evaluator(shuffled, {}, out_dir=None, step=0)
    assert 3 * metrics["fd_digits_cnn"] < scrambled["fd_digits_cnn"]
    assert all(names.is_known_metric(key) for key in metrics), sorted(metrics)
    expected = {
        "fd_digits_cnn", "kid_digits_cnn", "fd_pixels", "kid_pixels", "conf90",
        "classifier_accuracy", "mem_ratio_pixels", "mem_ratio_digits_cnn",
        "mem_sim_p95_pixels", "mem_sim_frac_pixels", "mem_unique_pixels",
        "mem_ratio_pixels_clean", "mem_sim_p95_digits_cnn_clean",
    }  # fmt: skip
    assert expected <= set(metrics)


def test_noise_scores_worse_than_digits(evaluator: Evaluator, digits_splits: Splits) -> None:
    noise = torch.rand(300, 1, 8, 8, generator=torch.Generator().manual_seed(0)) * 2 - 1
    bad, _ = evaluator(noise, {}, out_dir=None, step=0)
    good, _ = evaluator(_held_out(digits_splits)[:300], {}, out_dir=None, step=0)
    assert bad["fd_digits_cnn"] > 5 * good["fd_digits_cnn"]
    assert bad["fd_pixels"] > 5 * good["fd_pixels"]


def test_pictures_written(evaluator: Evaluator, digits_splits: Splits, tmp_path: Path) -> None:
    samples = torch.cat([digits_splits.train[:20], digits_splits.classifier[-20:]])
    _, paths = evaluator(samples, {"": digits_splits.train}, out_dir=tmp_path, step=1234)
    assert [p.name for p in paths] == [
        "samples_00001234.png",
        "gallery_00001234.png",
        "similarity_00001234.png",
    ]
    assert all(p.is_file() and p.stat().st_size > 500 for p in paths)


def test_wrong_shape_rejected(evaluator: Evaluator) -> None:
    with pytest.raises(ValueError, match="shape"):
        evaluator(torch.zeros(10, 1, 16, 16), {}, out_dir=None, step=0)
