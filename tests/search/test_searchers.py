"""The searchers Ray drives: replicates grouped for Optuna, early-stopped trials pruned."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest
from optuna.trial import TrialState

from ambientsweep.search.searchers import BudgetAwareOptunaSearch, ReplicateSearcher
from ambientsweep.search.space import define_by_run, optuna_sampler
from ambientsweep.spec import SweepSpec, load_sweep

SWEEP = """\
    name: s
    base: base.yaml
    space:
      train.lr: {loguniform: [1.0e-4, 1.0e-2]}
      method.clean_fraction: {uniform: [0.1, 0.5], when: {train.batch_size: 64}}
      train.batch_size: {choice: [32, 64]}
    objectives:
      - {metric: fd_digits_cnn}
      - {metric: mem_ratio_pixels}
    search: {algorithm: optuna, sampler: tpe, num_trials: 4}
    replicates: 2
"""


@pytest.fixture
def spec(tmp_path: Path) -> SweepSpec:
    (tmp_path / "base.yaml").write_text("method: {kind: edm}\n")
    (tmp_path / "s.yaml").write_text(textwrap.dedent(SWEEP))
    return load_sweep(tmp_path / "s.yaml").spec


def _searcher(spec: SweepSpec) -> tuple[ReplicateSearcher, BudgetAwareOptunaSearch]:
    inner = BudgetAwareOptunaSearch(space=define_by_run(spec), metric=spec.metric_names,
                                    mode=spec.directions, sampler=optuna_sampler(spec), seed=0)
    return ReplicateSearcher(inner, 2, spec.metric_names, spec.directions), inner


def test_replicates_share_a_config_and_optuna_gets_their_mean(spec: SweepSpec) -> None:
    rs, inner = _searcher(spec)
    a, b = rs.suggest("t1"), rs.suggest("t2")
    assert a["replicate"] == 0 and b["replicate"] == 1
    assert {k: v for k, v in a.items() if k != "replicate"} == \
        {k: v for k, v in b.items() if k != "replicate"}
    c = rs.suggest("t3")
    assert c["replicate"] == 0 and c["train.lr"] != a["train.lr"]
    rs.on_trial_complete("t1", {"fd_digits_cnn": 10.0, "mem_ratio_pixels": 0.2,
                                "budget_complete": 1.0})
    study = inner._ot_study
    assert all(t.state == TrialState.RUNNING for t in study.trials)  # not told yet
    rs.on_trial_complete("t2", {"fd_digits_cnn": 20.0, "mem_ratio_pixels": 0.4,
                                "budget_complete": 1.0})
    done = [t for t in study.trials if t.state == TrialState.COMPLETE]
    assert len(done) == 1
    assert done[0].values == pytest.approx([15.0, 0.3])


def test_a_short_replicate_prunes_the_configuration(spec: SweepSpec) -> None:
    rs, inner = _searcher(spec)
    rs.suggest("t1")
    rs.suggest("t2")
    rs.on_trial_complete("t1", {"fd_digits_cnn": 10.0, "mem_ratio_pixels": 0.2,
                                "budget_complete": 1.0})
    rs.on_trial_complete("t2", {"fd_digits_cnn": 1.0, "mem_ratio_pixels": 0.0, "kimg": 3.0})
    assert [t.state for t in inner._ot_study.trials] == [TrialState.PRUNED]


def test_a_diverged_replicate_fails_the_configuration(spec: SweepSpec) -> None:
    rs, inner = _searcher(spec)
    rs.suggest("t1")
    rs.suggest("t2")
    rs.on_trial_complete("t1", {"diverged": 1.0})
    rs.on_trial_complete("t2", {"fd_digits_cnn": 1.0, "mem_ratio_pixels": 0.0,
                                "budget_complete": 1.0})
    assert [t.state for t in inner._ot_study.trials] == [TrialState.FAIL]


def test_conditional_parameter_only_when_active(spec: SweepSpec) -> None:
    rs, _ = _searcher(spec)
    seen = [rs.suggest(f"t{i}") for i in range(0, 16, 2)]
    for cfg in seen:
        assert ("method.clean_fraction" in cfg) == (cfg["train.batch_size"] == 64)


def test_state_survives_save_and_restore(spec: SweepSpec, tmp_path: Path) -> None:
    rs, _ = _searcher(spec)
    first = rs.suggest("t1")
    rs.save(str(tmp_path / "state.pkl"))
    fresh, inner = _searcher(spec)
    fresh.restore(str(tmp_path / "state.pkl"))
    second = fresh.suggest("t2")  # the pending replicate of the restored configuration
    assert second["replicate"] == 1 and second["train.lr"] == first["train.lr"]
    fresh.on_trial_complete("t1", {"fd_digits_cnn": 1.0, "mem_ratio_pixels": 0.0,
                                   "budget_complete": 1.0})
    fresh.on_trial_complete("t2", {"fd_digits_cnn": 3.0, "mem_ratio_pixels": 0.0,
                                   "budget_complete": 1.0})
    assert [t.values for t in inner._ot_study.trials if t.values] == [[2.0, 0.0]]
