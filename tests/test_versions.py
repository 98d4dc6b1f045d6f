"""Work dirs that outlive a version: what is recorded, and what each action refuses."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest
from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.versions import (
    READS,
    SCHEMA_VERSION,
    VERSION_KEY,
    IncompatibleVersion,
    check_version,
    read_tag,
    tag_names,
)
from tests.bad_input import assert_refused, write_files

SWEEP = textwrap.dedent("""\
    name: t
    base: base.yaml
    space:
      train.lr: {grid: [0.001, 0.002]}
    objectives:
      - {metric: fd_digits_cnn}
""")


def test_check_version_rules() -> None:
    check_version(SCHEMA_VERSION, "resume", "x")
    for action in READS:
        check_version(READS[action], action, "x")  # type: ignore[arg-type]
        with pytest.raises(IncompatibleVersion, match="newer ambientsweep"):
            check_version(SCHEMA_VERSION + 1, action, "x")  # type: ignore[arg-type]
    check_version(None, "export", "x")  # before versions: still exported
    with pytest.raises(IncompatibleVersion, match=r"schema version 1.*cannot resume.*config_hash"
                                                 r".*Do this\."):
        check_version(None, "resume", "sweep folder x", fix="Do this.")


def test_renamed_tags_are_read_under_either_name() -> None:
    assert read_tag({"config_hash": "abc"}, "ambientsweep.config_hash") == "abc"
    assert read_tag({"ambientsweep.group_id": "g"}, "group_id") == "g"
    assert read_tag({"ambientsweep.state": "complete"}, "ambientsweep.state") == "complete"
    assert read_tag({}, "config_hash", "none") == "none"
    assert tag_names("method") == ("method", "ambientsweep.method")


def _folder(tmp_path: Path, version: int | None) -> tuple[Path, Path]:
    sweep = write_files(tmp_path, SWEEP, name="t")
    sweep_dir = tmp_path / "runs" / "sweeps" / "t"
    sweep_dir.mkdir(parents=True)
    state = {"name": "t", "spec_hash": "0" * 16}
    if version is not None:
        state[VERSION_KEY] = version
    (sweep_dir / "sweep.json").write_text(json.dumps(state))
    (sweep_dir / "spec.json").write_text(json.dumps({"spec": {"name": "t"}, "base": {}}))
    return sweep, tmp_path / "runs"


@pytest.mark.parametrize("version,expect", [
    (None, ["schema version 1", "cannot resume", "ambientsweep pareto t", "another name"]),
    (SCHEMA_VERSION + 1, ["newer ambientsweep", "Upgrade"]),
])
def test_resume_across_versions_stops_with_what_to_do(version, expect, tmp_path: Path) -> None:
    sweep, workdir = _folder(tmp_path, version)
    before = sorted(p.relative_to(workdir) for p in workdir.rglob("*"))
    res = CliRunner().invoke(app, ["run", str(sweep), "--workdir", str(workdir)])
    assert_refused(res, [*expect, str(workdir / "sweeps" / "t")])
    assert sorted(p.relative_to(workdir) for p in workdir.rglob("*")) == before  # untouched


def test_export_of_a_newer_folder_stops(tmp_path: Path) -> None:
    sweep, workdir = _folder(tmp_path, SCHEMA_VERSION + 1)
    (workdir / "mlflow.db").touch()  # a store is there; the folder's version is the problem
    for cmd in (["status", "t"], ["pareto", str(sweep)]):
        res = CliRunner().invoke(app, [*cmd, "--workdir", str(workdir)])
        assert_refused(res, ["newer ambientsweep"], cmd)


def test_export_of_an_old_folder_passes_the_version_check(tmp_path: Path) -> None:
    from ambientsweep.commands.exports import resolve_sweep

    _, workdir = _folder(tmp_path, None)
    name, experiment, _ = resolve_sweep("t", workdir)
    assert (name, experiment) == ("t", "t")


@pytest.fixture(scope="module")
def old_store(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A real SQLite MLflow store as an older ambientsweep left it: a parent run without a
    schema version, and a trial whose tags carry the namespaced (renamed) spellings."""
    from mlflow.tracking import MlflowClient

    from ambientsweep.tracking.tags import (
        ROLE_PARENT,
        ROLE_TRIAL,
        TAG_ROLE,
        TAG_SWEEP,
        TAG_TRIAL_ID,
    )

    root = tmp_path_factory.mktemp("old_store")
    uri = f"sqlite:///{root / 'mlflow.db'}"
    client = MlflowClient(tracking_uri=uri)
    exp = client.create_experiment("t", artifact_location=(root / "art").as_uri())
    client.create_run(exp, run_name="t", tags={TAG_ROLE: ROLE_PARENT, TAG_SWEEP: "t"})
    client.create_run(exp, tags={TAG_ROLE: ROLE_TRIAL, TAG_SWEEP: "t", TAG_TRIAL_ID: "a1",
                                 "ambientsweep.config_hash": "abc", "ambientsweep.group_id": "g",
                                 "ambientsweep.method": "sfbd"})
    return root, uri


def test_renamed_tags_are_read_from_the_store(old_store: tuple[Path, str]) -> None:
    from ambientsweep.tracking.mlflow_log import load_results

    _, uri = old_store
    df = load_results(uri, "t", "t")
    assert df[["config_hash", "group_id", "method"]].iloc[0].tolist() == ["abc", "g", "sfbd"]


def test_parent_run_of_an_old_version_stops_resume(old_store: tuple[Path, str],
                                                   tmp_path: Path) -> None:
    """No local sweep folder (another machine, a shared server): the parent run says it."""
    _, uri = old_store
    sweep = write_files(tmp_path, SWEEP, name="t")
    workdir = tmp_path / "runs"
    res = CliRunner().invoke(app, ["run", str(sweep), "--workdir", str(workdir),
                                   "--tracking-uri", uri])
    assert_refused(res, ["parent run", "schema version 1", "another name"])
    assert not workdir.exists()  # stopped before the sweep folder (and before Ray)
