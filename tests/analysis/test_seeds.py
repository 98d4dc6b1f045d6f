"""Hypervolume of each seed's front, against the pooled front's reference point."""

from __future__ import annotations

import numpy as np

from ambientsweep.analysis.aggregate import compute_pareto
from ambientsweep.analysis.pareto import hypervolume
from ambientsweep.analysis.seeds import hypervolume_per_seed, hypervolume_summary


def test_each_seed_front_against_the_pooled_reference(results, objectives) -> None:
    per_seed = hypervolume_per_seed(results, objectives)
    assert sorted(per_seed.groupby("sweep")["replicate"].apply(list).items()) == [
        ("ambient_p", [0, 1]), ("sfbd_clean_fraction", [0, 1, 2])]
    ref = compute_pareto(results, objectives).reference
    # Recompute seed 1 of the Ambient sweep by hand: its finished trials' objective values.
    df = results["ambient_p"]
    part = df[(df["replicate"] == 1) & (df["state"] == "complete")]
    pts = part[["fd_digits_cnn", "mem_ratio_pixels"]].to_numpy(float)
    want = hypervolume(pts, ["min", "min"], ref)
    got = per_seed.query("sweep == 'ambient_p' and replicate == 1")["hypervolume"].item()
    assert np.isclose(got, want) and got > 0
    summary = hypervolume_summary(per_seed).set_index("sweep")
    hv = per_seed[per_seed["sweep"] == "sfbd_clean_fraction"]["hypervolume"]
    assert summary.loc["sfbd_clean_fraction", "n"] == 3
    assert np.isclose(summary.loc["sfbd_clean_fraction", "hypervolume"], hv.mean())
    assert np.isclose(summary.loc["sfbd_clean_fraction", "hypervolume.std"], hv.std(ddof=1))
