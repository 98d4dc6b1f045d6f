"""Metric keys: the names that bind (DESIGN.md) and their directions."""

from __future__ import annotations

import pytest

from ambientsweep.metrics import names


def test_binding_names() -> None:
    assert names.fd_key("inception") == "fid_inception"
    assert names.kid_key("inception") == "kid_inception"
    assert names.fd_key("digits_cnn") == "fd_digits_cnn"
    assert names.fd_key("pixels") == "fd_pixels"
    assert names.MEM_RATIO_PIXELS == "mem_ratio_pixels"
    assert names.mem_key("ratio", "pixels", "_clean") == "mem_ratio_pixels_clean"
    assert names.mem_key("sim_p95", "dinov2") == "mem_sim_p95_dinov2"
    assert names.mem_key("sim_frac", "digits_cnn") == "mem_sim_frac_digits_cnn"
    assert names.mem_key("unique", "pixels", "_noisy") == "mem_unique_pixels_noisy"


@pytest.mark.parametrize(
    ("name", "sense"),
    [
        ("fid_inception", "min"),
        ("kid_digits_cnn", "min"),
        ("fd_pixels", "min"),
        ("mem_ratio_pixels", "min"),
        ("mem_ratio_pixels_clean", "min"),
        ("mem_sim_p95_digits_cnn", "min"),
        ("mem_unique_pixels_noisy", "min"),
        ("mem_d1d2_median_pixels", "max"),
        ("psnr_denoised", "max"),
        ("loss", "min"),
        ("classifier_accuracy", "max"),
        ("conf90", "max"),
    ],
)
def test_directions(name: str, sense: str) -> None:
    assert names.is_known_metric(name)
    assert names.direction(name) == sense
    assert name in names.KNOWN_METRICS


@pytest.mark.parametrize("bad", ["fid", "fd_inception", "mem_ratio_pixel", "mem/nn", "loss_clean"])
def test_unknown(bad: str) -> None:
    assert not names.is_known_metric(bad)
    with pytest.raises(KeyError, match="known metrics"):
        names.direction(bad)


def test_builders_reject_unknown_parts() -> None:
    with pytest.raises(ValueError, match="feature space"):
        names.fd_key("clip")
    with pytest.raises(ValueError, match="memorization kind"):
        names.mem_key("copies", "pixels")
    with pytest.raises(ValueError, match="suffix"):
        names.mem_key("ratio", "pixels", "_train")
