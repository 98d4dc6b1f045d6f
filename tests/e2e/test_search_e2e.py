"""End to end, beyond the grid: repeated Optuna proposals, the study file, early stopping."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.helpers import (
    first_complete,
    kill_group,
    ray_trials,
    read_until,
    run_sweep,
    start_cli,
    sweep_runs,
    write_sweep,
)

pytestmark = pytest.mark.e2e


def test_optuna_repeated_proposals_finish(tmp_path: Path, ray_tmp: str) -> None:
    """5 trials over 2 points: the repeats reuse the first run's result; exit 0, a front."""
    path = write_sweep(tmp_path, """\
        name: rep
        base: tiny.yaml
        space:
          model.mlp_hidden: {choice: [32, 64]}
        objectives:
          - {metric: fd_digits_cnn, ref: 500}
          - {metric: mem_ratio_pixels, ref: 1.0}
        search: {algorithm: optuna, sampler: tpe, num_trials: 5, n_startup_trials: 2}
        resources: {cpu: 1}
    """)
    workdir = tmp_path / "runs"
    res = run_sweep(path, workdir)
    assert "5 complete" in res.stdout, res.stdout
    parents, children, _ = sweep_runs(workdir, "rep")
    assert parents[0].info.status == "FINISHED"
    trials = ray_trials(workdir, "rep")
    assert len(trials) == 5 and all(t.last_result.get("budget_complete") for t in trials)
    distinct = {t.config["model.mlp_hidden"] for t in trials}
    # One child run per configuration; the repeats are tagged on it, not run again.
    assert len(children) == len(distinct)
    assert len({c.data.tags["ambientsweep.config_hash"] for c in children}) == len(children)
    reused = [t for c in children
              for t in c.data.tags.get("ambientsweep.reused_by", "").split(",") if t]
    assert len(reused) == 5 - len(distinct)
    by_hidden = {int(c.data.params["param.model.mlp_hidden"]): c for c in children}
    for t in trials:  # a repeat reports exactly its configuration's values
        run = by_hidden[t.config["model.mlp_hidden"]]
        assert t.last_result["fd_digits_cnn"] == pytest.approx(run.data.metrics["fd_digits_cnn"])
    exports = workdir / "sweeps" / "rep" / "exports"
    assert (exports / "pareto_trials.csv").is_file(), list(exports.iterdir())
    assert (exports / "importance.csv").is_file() and (exports / "importance.png").is_file()
    assert any(c.data.tags.get("ambientsweep.on_front") == "true" for c in children)


def test_resumed_optuna_sweep_keeps_every_trial_in_its_study_file(tmp_path: Path,
                                                                   ray_tmp: str) -> None:
    """SIGKILL the driver mid-sweep, resume: the journal holds every finished trial, with the
    values MLflow holds, and no trial left RUNNING."""
    from ambientsweep.search.study import journal_path, load_study

    path = write_sweep(tmp_path, """\
        name: jr
        base: tiny.yaml
        space:
          train.lr: {loguniform: [5.0e-4, 4.0e-3]}
        objectives:
          - {metric: fd_digits_cnn, ref: 500}
          - {metric: mem_ratio_pixels, ref: 1.0}
        search: {algorithm: optuna, sampler: tpe, num_trials: 3, n_startup_trials: 2,
                 max_concurrent: 1}
        resources: {cpu: 1}
    """)
    workdir = tmp_path / "runs"
    proc = start_cli("run", path, "--workdir", workdir)
    try:
        seen = read_until(proc, first_complete)  # one trial finished
    finally:
        kill_group(proc, ray_tmp)  # SIGKILL: the driver and its local Ray, no clean-up
    journal = journal_path(workdir / "sweeps" / "jr")
    assert journal.is_file(), "".join(seen)
    res = run_sweep(path, workdir)
    assert "(resumed)" in res.stdout
    study = load_study(journal)
    assert study is not None and study.study_name == "jr"
    states = [t.state.name for t in study.trials]
    assert "RUNNING" not in states, states
    complete = [t for t in study.trials if t.state.name == "COMPLETE"]
    _, children, _ = sweep_runs(workdir, "jr")
    done = [c for c in children if c.data.tags["ambientsweep.state"] == "complete"]
    assert len(done) == 3 and len(complete) == 3
    by_lr = {round(t.params["train.lr"], 12): t.values for t in complete}
    for c in done:  # every finished trial is in the study, with MLflow's values
        values = by_lr[round(float(c.data.params["param.train.lr"]), 12)]
        assert values[0] == pytest.approx(c.data.metrics["fd_digits_cnn"])
        assert values[1] == pytest.approx(c.data.metrics["mem_ratio_pixels"])


def test_asha_on_an_evaluated_metric(tmp_path: Path, ray_tmp: str) -> None:
    """ASHA watching fd_digits_cnn (evaluated every quarter of the budget): some trials are
    stopped, the rest complete with their final metrics; a front; exit 0."""
    pytest.importorskip("ambientsweep.search.schedulers")  # i16-moasha's budget schedulers
    path = write_sweep(tmp_path, """\
        name: asha
        base: tiny.yaml
        overrides:
          eval.every_kimg: 0.16
        space:
          train.lr: {grid: [3.0e-3, 1.0e-3, 1.0e-5, 1.0e-6]}
        objectives:
          - {metric: fd_digits_cnn, ref: 5000}
          - {metric: mem_ratio_pixels, ref: 1.0}
        early_stopping: {scheduler: asha, metric: fd_digits_cnn, grace_kimg: 0.16,
                         reduction_factor: 2}
        search: {algorithm: grid, max_concurrent: 2}
        resources: {cpu: 1}
    """)
    workdir = tmp_path / "runs"
    run_sweep(path, workdir)
    parents, children, _ = sweep_runs(workdir, "asha")
    assert parents[0].info.status == "FINISHED" and len(children) == 4
    states = [c.data.tags["ambientsweep.state"] for c in children]
    assert "pruned" in states and "complete" in states, states
    for c in children:
        if c.data.tags["ambientsweep.state"] == "complete":
            assert c.data.tags["ambientsweep.budget_complete"] == "true"
            assert "fd_digits_cnn" in c.data.metrics and "mem_ratio_pixels" in c.data.metrics
        else:
            assert c.data.tags["ambientsweep.budget_complete"] == "false"
            assert c.data.tags.get("ambientsweep.on_front") != "true"
    assert any(c.data.tags.get("ambientsweep.on_front") == "true" for c in children)
    trials = ray_trials(workdir, "asha")
    stopped = [t.last_result for t in trials if not t.last_result.get("budget_complete")]
    assert stopped and all(r["budget_fraction"] < 1.0 for r in stopped)
