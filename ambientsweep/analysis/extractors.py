"""One feature space per table or front: FDs made with different extractors are not compared.

A metric measured in a learned feature space (``fd_digits_cnn``, ``kid_digits_cnn``,
``mem_*_digits_cnn``, ``conf90``, ``fid_inception``, ...; :func:`~ambientsweep.metrics.names.
feature_space_of`) depends on the extractor's weights as much as on the samples: a classifier
trained on another machine gives another FD for the same images. Every trial records the
digest of its extractor (``extractor_digest``); ``report`` and ``pareto`` call
:func:`check_extractors` on the rows and metrics they are about to aggregate or compare, which
raises unless all of them share one digest, or, when the caller allows mixing, returns the
warnings to print with the output. Trials recorded before digests existed have an empty digest
and count as one more extractor ("unrecorded").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import numpy as np
import pandas as pd

from ambientsweep.errors import UserError
from ambientsweep.metrics import names

__all__ = ["ALLOW_FLAG", "check_extractors", "extractor_digests"]

ALLOW_FLAG = "--allow-mixed-extractors"
_UNRECORDED = "unrecorded (made before extractor digests were recorded)"


def _digests(df: pd.DataFrame) -> pd.Series:
    if names.EXTRACTOR_DIGEST not in df.columns:
        return pd.Series([""] * len(df), index=df.index, dtype=object)
    return df[names.EXTRACTOR_DIGEST].fillna("").astype(str)


def extractor_digests(frames: Mapping[str, pd.DataFrame] | pd.DataFrame) -> dict[str, list[str]]:
    """Per sweep, the distinct extractor digests of its trials (sorted; ``""`` = unrecorded)."""
    if isinstance(frames, pd.DataFrame):
        if "sweep" in frames.columns:
            frames = {str(k): g for k, g in frames.groupby("sweep", sort=False)}
        else:
            frames = {"": frames}
    return {sweep: sorted(set(_digests(df))) for sweep, df in frames.items()}


def _uses(df: pd.DataFrame, metric: str) -> pd.Series:
    """Rows with a finite value of ``metric``."""
    if metric not in df.columns:
        return pd.Series(False, index=df.index)
    values = pd.to_numeric(df[metric], errors="coerce").to_numpy(float)
    return pd.Series(np.isfinite(values), index=df.index)


def _describe(df: pd.DataFrame, digests: pd.Series, digest: str) -> str:
    rows = df[digests == digest]
    where = ""
    if "sweep" in rows.columns:
        sweeps = list(dict.fromkeys(rows["sweep"].astype(str)))
        where = f" of sweep{'s' if len(sweeps) > 1 else ''} {', '.join(sweeps)}"
    n = len(rows)
    return f"{digest or _UNRECORDED} ({n} trial{'s' if n != 1 else ''}{where})"


def check_extractors(df: pd.DataFrame, metrics: Iterable[str], *, allow_mixed: bool,
                     action: str) -> list[str]:
    """Refuse (or warn about) metrics of one table made with more than one feature extractor.

    Args:
        df: the rows about to be aggregated or compared (results table, any sweeps).
        metrics: the metric columns used; only those in a learned feature space are checked.
        allow_mixed: return warnings instead of raising.
        action: what the caller does with them, for the message ("aggregate", "compare").

    Returns:
        One warning per set of metrics that mixes extractors (empty when nothing mixes).

    Raises:
        UserError: some metric mixes extractors and ``allow_mixed`` is false; the message names
            every digest involved and the flag that allows it.
    """
    digests = _digests(df)
    conflicts: dict[tuple[str, ...], list[str]] = {}
    for metric in dict.fromkeys(metrics):
        if names.feature_space_of(metric) is None:
            continue
        used = digests[_uses(df, metric)]
        found = tuple(sorted(set(used)))
        if len(found) > 1:
            conflicts.setdefault(found, []).append(metric)
    messages = []
    for found, metrics_here in conflicts.items():
        used_rows = df[np.logical_or.reduce([_uses(df, m) for m in metrics_here])]
        used_digests = digests[used_rows.index]
        parts = " and ".join(_describe(used_rows, used_digests, d) for d in found)
        messages.append(
            f"{', '.join(metrics_here)}: made with {len(found)} different feature extractors, "
            f"{parts}; values from different extractors are not comparable"
        )
    if messages and not allow_mixed:
        raise UserError(
            f"refusing to {action} metrics made with different feature extractors: "
            + "; ".join(messages)
            + f". Rerun with one extractor (the shipped default, or one pinned with "
            f"`ambientsweep extractor export/import`), or pass {ALLOW_FLAG} to {action} them "
            "anyway"
        )
    return [f"{m} ({ALLOW_FLAG})" for m in messages]
