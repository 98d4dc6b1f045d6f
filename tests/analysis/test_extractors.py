"""analysis.extractors: which metrics depend on the extractor, and when mixing is refused."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ambientsweep.analysis.extractors import check_extractors, extractor_digests
from ambientsweep.errors import UserError
from ambientsweep.metrics.names import EXTRACTOR_DIGEST, feature_space_of


def _table(digests: list[str], fd: list[float]) -> pd.DataFrame:
    return pd.DataFrame({"sweep": ["s1", "s1", "s2", "s2"][: len(digests)],
                         EXTRACTOR_DIGEST: digests, "fd_digits_cnn": fd,
                         "mem_ratio_pixels": [0.1] * len(digests)})


@pytest.mark.parametrize("metric,space", [
    ("fd_digits_cnn", "digits_cnn"), ("kid_digits_cnn", "digits_cnn"),
    ("mem_ratio_digits_cnn_clean", "digits_cnn"), ("conf90", "digits_cnn"),
    ("classifier_accuracy", "digits_cnn"), ("fid_inception", "inception"),
    ("mem_sim_p95_dinov2", "dinov2"), ("fd_pixels", None), ("mem_ratio_pixels", None),
    ("psnr_denoised", None), ("loss", None)])
def test_feature_space_of(metric: str, space: str | None) -> None:
    assert feature_space_of(metric) == space


def test_one_extractor_passes_and_mixed_ones_are_refused_naming_both() -> None:
    assert check_extractors(_table(["a", "a", "a", "a"], [1, 2, 3, 4]),
                            ["fd_digits_cnn"], allow_mixed=False, action="compare") == []
    mixed = _table(["a", "a", "b", "b"], [1, 2, 3, 4])
    with pytest.raises(UserError) as err:
        check_extractors(mixed, ["fd_digits_cnn", "mem_ratio_pixels"], allow_mixed=False,
                         action="compare")
    text = str(err.value)
    assert "a (2 trials of sweep s1) and b (2 trials of sweep s2)" in text
    assert "refusing to compare" in text and "--allow-mixed-extractors" in text
    assert "mem_ratio_pixels" not in text
    (warning,) = check_extractors(mixed, ["fd_digits_cnn"], allow_mixed=True, action="compare")
    assert warning.startswith("fd_digits_cnn: made with 2 different feature extractors")


def test_only_rows_with_a_value_count_and_unrecorded_is_an_extractor() -> None:
    # The "b" trial has no fd (e.g. failed before evaluating): nothing mixes.
    assert check_extractors(_table(["a", "a", "b"], [1, 2, np.nan]), ["fd_digits_cnn"],
                            allow_mixed=False, action="aggregate") == []
    with pytest.raises(UserError, match="unrecorded"):
        check_extractors(_table(["a", ""], [1, 2]), ["fd_digits_cnn"], allow_mixed=False,
                         action="aggregate")
    no_column = _table(["a", "a"], [1, 2]).drop(columns=[EXTRACTOR_DIGEST])
    assert check_extractors(no_column, ["fd_digits_cnn"], allow_mixed=False,
                            action="aggregate") == []
    assert extractor_digests(_table(["a", "b", "b", ""], [1, 2, 3, 4])) == {
        "s1": ["a", "b"], "s2": ["", "b"]}
