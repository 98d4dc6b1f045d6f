"""The sweep's Optuna study as a journal file in the sweep folder (no ray import).

``sweeps/<name>/optuna-journal.log``: Optuna's :class:`~optuna.storages.JournalStorage` over a
:class:`~optuna.storages.journal.JournalFileBackend`, an append-only log of every ask and
tell. Not Optuna's RDB storage inside MLflow's ``mlflow.db``: both keep an Alembic version
table there and would clash. The searcher writes through it while the sweep runs (so
``optuna-dashboard <file>``, ``optuna.visualization`` and ``optuna.importance`` can open it at
any time); Ray's searcher checkpoint pickles the same storage, so a resumed sweep appends to
the same file.

After a SIGKILL the journal can hold RUNNING trials that Ray's last checkpoint never saw (asked
after it): :func:`reconcile` marks them failed, so the study holds no trial forever running.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import optuna
from optuna.storages import JournalStorage
from optuna.storages.journal import JournalFileBackend
from optuna.trial import TrialState

from ambientsweep.workdir import JOURNAL_NAME


def journal_path(sweep_dir: Path) -> Path:
    return Path(sweep_dir) / JOURNAL_NAME


def journal_storage(path: Path) -> JournalStorage:
    """The journal storage at `path` (created on first write; an existing one is replayed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def load_study(path: Path, name: str | None = None) -> optuna.Study | None:
    """The study in the journal (the only one, or `name`); None when there is no journal."""
    if not Path(path).is_file():
        return None
    storage = journal_storage(Path(path))
    names = [s.study_name for s in storage.get_all_studies()]
    if not names:
        return None
    return optuna.load_study(study_name=name if name in names else names[0], storage=storage)


def reconcile(study: optuna.Study, known: Iterable[int]) -> list[int]:
    """Mark failed the RUNNING trials whose numbers are not in `known` (the trials the
    searcher's restored state still waits for); returns their numbers."""
    keep = set(known)
    stale = [t for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
             if t.number not in keep]
    for t in stale:
        study.tell(t.number, state=TrialState.FAIL, skip_if_finished=True)
    return [t.number for t in stale]
