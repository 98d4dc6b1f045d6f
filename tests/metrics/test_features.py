"""Feature extractors: the digits CNN is accurate and cached; gated extractors fail fast."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch

from ambientsweep.data import Splits
from ambientsweep.errors import UserError, WeightsMissingError
from ambientsweep.metrics import Evaluator, weights
from ambientsweep.metrics.extractor_files import SHIPPED_DIGITS_CNN
from ambientsweep.metrics.features import (
    CnnFeatures,
    PixelFeatures,
    build_extractor,
    load_or_train_cnn,
)

CPU = torch.device("cpu")


def test_digits_cnn_accurate_and_full_rank(evaluator: Evaluator, digits_splits: Splits) -> None:
    extractor = evaluator.fidelity.extractor
    assert isinstance(extractor, CnnFeatures)
    assert extractor.accuracy is not None and extractor.accuracy >= 0.95
    feats = extractor(digits_splits.reference).double().numpy()
    assert feats.shape == (500, 64)
    eig = np.linalg.eigvalsh(np.cov(feats, rowvar=False))
    assert eig.min() > 1e-6 * eig.max()  # no dead units: covariance is not singular


def test_digits_cnn_default_is_the_shipped_one_and_loads_again_alike(
    evaluator: Evaluator, digits_splits: Splits, metrics_cache: Path
) -> None:
    """The default settings never write the cache (their weights ship with the package; the
    train-on-first-use path is tests/metrics/test_extractor_files.py's)."""
    assert not list(metrics_cache.glob("features/digits_cnn-*.pt"))
    assert evaluator.extractor_digest == SHIPPED_DIGITS_CNN.digest
    start = time.perf_counter()
    again = load_or_train_cnn(digits_splits, metrics_cache, CPU)
    assert time.perf_counter() - start < 2.0
    first = evaluator.fidelity.extractor
    assert torch.equal(again(digits_splits.reference[:20]), first(digits_splits.reference[:20]))


def test_digits_cnn_needs_labels(digits_splits: Splits, tmp_path: Path) -> None:
    unlabeled = Splits(**{**digits_splits.__dict__, "classifier_labels": None})
    with pytest.raises(UserError, match="class labels"):
        build_extractor("digits_cnn", unlabeled, cache_dir=tmp_path, device=CPU)


def test_pixels() -> None:
    x = torch.rand(3, 1, 8, 8)
    assert torch.equal(PixelFeatures()(x), x.reshape(3, 64))
    assert PixelFeatures.digest == "pixels"


def test_inception_missing_weights_fails_fast(digits_splits: Splits, tmp_path: Path) -> None:
    start = time.perf_counter()
    with pytest.raises(WeightsMissingError, match="ambientsweep fetch-weights inception"):
        build_extractor("inception", digits_splits, cache_dir=tmp_path, device=CPU)
    assert time.perf_counter() - start < 0.5
    assert not any(tmp_path.iterdir())  # nothing attempted, nothing written


def test_dinov2_is_gated(digits_splits: Splits, tmp_path: Path) -> None:
    with pytest.raises(WeightsMissingError, match=r"eval\.dinov2"):
        build_extractor("dinov2", digits_splits, cache_dir=tmp_path, device=CPU)


def test_fetch_weights_offline_is_a_user_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import socket
    from urllib.parse import urlparse

    from cleanfid.downloads_helper import inception_url

    try:  # a real attempt: only meaningful where the weights' host cannot be reached
        socket.getaddrinfo(urlparse(inception_url).hostname, 443)
        pytest.skip("the weights' host resolves here: the test would download 100 MB")
    except OSError:
        pass
    with pytest.raises(UserError, match="could not download inception weights"):
        weights.fetch_weights("inception", tmp_path)
    assert "fetching inception weights" in capsys.readouterr().out
    assert list((tmp_path / "weights").iterdir()) == []  # no partial file
    with pytest.raises(UserError, match="not supported"):
        weights.fetch_weights("dinov2", tmp_path)
