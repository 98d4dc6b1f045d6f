"""The journal study file, reconciliation after a kill, importance per objective, repeats."""

from __future__ import annotations

from pathlib import Path

import optuna
import pytest
from optuna.trial import TrialState

from ambientsweep.search.importance import importance_table, write_importance
from ambientsweep.search.study import journal_path, journal_storage, load_study, reconcile

optuna.logging.set_verbosity(optuna.logging.WARNING)


def _study(path: Path) -> optuna.Study:
    return optuna.create_study(storage=journal_storage(path), study_name="s",
                               directions=["minimize", "minimize"], load_if_exists=True,
                               sampler=optuna.samplers.RandomSampler(seed=0))


def test_importance_follows_the_objective_each_param_drives(tmp_path: Path) -> None:
    study = _study(journal_path(tmp_path))
    for _ in range(24):
        t = study.ask()
        a = t.suggest_float("train.lr", 0.0, 1.0)
        b = t.suggest_categorical("data.train_size", [10, 40, 80])
        study.tell(t, [a * 10 + b * 1e-4, b / 10 + a * 1e-3])
    table = importance_table(study, ["fd_digits_cnn", "mem_ratio_pixels"])
    imp = table.set_index(["objective", "param"])["importance"]
    assert imp["fd_digits_cnn", "train.lr"] > 0.8
    assert imp["mem_ratio_pixels", "data.train_size"] > 0.8
    assert table.groupby("objective")["importance"].sum().round(6).eq(1.0).all()
    assert set(table["evaluator"]) == {"FanovaImportanceEvaluator"}
    written = write_importance(study, ["fd_digits_cnn", "mem_ratio_pixels"], tmp_path / "out")
    assert written["importance"].read_text().startswith("objective,param,importance,evaluator")
    assert written["importance_png"].read_bytes()[:4] == b"\x89PNG"


def test_too_few_trials_rank_nothing(tmp_path: Path) -> None:
    study = _study(journal_path(tmp_path))
    t = study.ask()
    t.suggest_float("x", 0, 1)
    study.tell(t, [1.0, 2.0])
    assert importance_table(study, ["a", "b"]).empty
    assert write_importance(study, ["a", "b"], tmp_path / "out") == {}


def test_journal_reopens_and_reconciles_unknown_running_trials(tmp_path: Path) -> None:
    path = journal_path(tmp_path)
    study = _study(path)
    done = study.ask()
    done.suggest_float("x", 0, 1)
    study.tell(done, [1.0, 1.0])
    known, orphan = study.ask(), study.ask()  # both RUNNING when the driver is killed
    again = load_study(path)  # a new process replays the journal
    assert again is not None and len(again.trials) == 3
    assert reconcile(again, [known.number]) == [orphan.number]
    states = {t.number: t.state for t in load_study(path).trials}
    assert states == {done.number: TrialState.COMPLETE, known.number: TrialState.RUNNING,
                      orphan.number: TrialState.FAIL}
    assert load_study(tmp_path / "none.log") is None


def test_repeated_proposals_reuse_and_optuna_is_told(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    from ambientsweep.search.keys import BUDGET_KEY, REUSE_KEY
    from ambientsweep.search.searchers import BudgetAwareOptunaSearch, ReplicateSearcher

    def space(trial: optuna.Trial) -> None:
        trial.suggest_categorical("model.mlp_hidden", [32, 64])

    inner = BudgetAwareOptunaSearch(space=space, metric=["fd", "mem"], mode=["min", "min"],
                                    sampler=optuna.samplers.RandomSampler(seed=1), seed=1,
                                    study_name="rep",
                                    storage=journal_storage(journal_path(tmp_path)))
    searcher = ReplicateSearcher(inner, 1, ["fd", "mem"], ["min", "min"])
    configs = {f"t{i}": searcher.suggest(f"t{i}") for i in range(6)}
    first: dict[int, str] = {}
    for tid, cfg in configs.items():
        assert isinstance(cfg, dict)
        hidden = cfg["model.mlp_hidden"]
        if hidden in first:
            assert cfg[REUSE_KEY] == first[hidden]  # a repeat names the first proposal
        else:
            assert REUSE_KEY not in cfg
            first[hidden] = tid
    assert len(first) < len(configs)
    for tid, cfg in configs.items():
        searcher.on_trial_complete(tid, {"fd": float(cfg["model.mlp_hidden"]), "mem": 0.5,
                                         BUDGET_KEY: 1.0})
    study = load_study(journal_path(tmp_path))
    assert study is not None
    assert [t.state for t in study.trials] == [TrialState.COMPLETE] * 6
    assert all(t.values[0] == t.params["model.mlp_hidden"] for t in study.trials)


def test_optuna_dashboard_reads_the_journal(tmp_path: Path) -> None:
    """What `optuna-dashboard <journal>` serves: the study and its trials, from the file."""
    import io
    import json
    from wsgiref.util import setup_testing_defaults

    dashboard = pytest.importorskip("optuna_dashboard")
    path = journal_path(tmp_path)
    study = _study(path)
    for x in (0.2, 0.7):
        t = study.ask()
        t.suggest_float("x", 0, 1)
        study.tell(t, [x, 1 - x])
    environ: dict = {"PATH_INFO": "/api/studies", "wsgi.input": io.BytesIO()}
    setup_testing_defaults(environ)
    status: list[str] = []
    body = b"".join(dashboard.wsgi(journal_storage(path))(
        environ, lambda s, h, exc=None: status.append(s)))
    assert status[0].startswith("200")
    summary = json.loads(body)["study_summaries"]
    assert [s["study_name"] for s in summary] == ["s"]
