"""Hostile or careless sweep files: bounded time, one clear message, exit 2, nothing written.

Each case is run through `validate`, `plan` and `run`, each under a wall-clock alarm: it must
fail fast with exit code 2, print one line that names the file and the key (or line), print no
traceback, and leave no work dir behind (no MLflow store, no sweep folder).
"""

from __future__ import annotations

import contextlib
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

import ambientsweep.commands.run  # noqa: F401  (imports paid here, not inside a deadline)
from ambientsweep.cli import app
from tests.bad_input import QUICK_BASE as BASE
from tests.bad_input import assert_refused, write_files

SECONDS = 5.0  # per command (validate, plan, run) of a case


HEAD = "name: t\nbase: base.yaml\n"
OBJ = "objectives:\n  - {metric: fd_digits_cnn}\n"
GRID = "space:\n  train.lr: {grid: [0.001, 0.002]}\n"


def sweep(*parts: str, head: str = HEAD, obj: str = OBJ) -> str:
    return head + "".join(parts) + obj


def _laughs(levels: int = 12) -> str:
    lines = ['l0: &l0 ["ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha", "ha"]']
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*l{i - 1}"] * 10) + "]")
    return "description:\n" + "".join(f"  {line}\n" for line in lines)


def _grid_bomb(keys: int = 10, values: int = 10) -> str:
    fields = ["train.lr", "train.batch_size", "train.ema_decay", "train.p_mean", "train.p_std",
              "model.mlp_hidden", "model.mlp_layers", "sampler.steps", "sampler.rho",
              "eval.ratio_threshold"]
    body = "".join(f"  {k}: {{grid: [{', '.join(str(i + 2) for i in range(values))}]}}\n"
                   for k in fields[:keys])
    return "space:\n" + body


# (id, sweep text, base text, fragments of the message, file the message must name)
CASES: list[tuple[str, str, str, list[str], str]] = [
    # --- YAML as a resource bomb --------------------------------------------------------------
    ("billion-laughs", sweep(_laughs(), GRID), BASE,
     ["anchors and aliases are not allowed", ":4:"], "sweep"),
    ("alias-in-base", sweep(GRID), BASE + "x: &a 1\ny: *a\n",
     ["anchors and aliases are not allowed"], "base"),
    ("merge-key", sweep("overrides:\n  <<: {train.kimg: 1}\n", GRID), BASE,
     ["merge key '<<'"], "sweep"),
    ("deep-flow-nesting", sweep("description: " + "[" * 5000 + "]" * 5000 + "\n", GRID), BASE,
     ["nested more than 32 levels"], "sweep"),
    ("deep-block-nesting", sweep("description:\n" + "".join(
        " " * (2 * i + 2) + f"k{i}:\n" for i in range(200)), GRID), BASE,
     ["nested more than 32 levels"], "sweep"),
    ("enormous-file", sweep(GRID) + "# padding\n" * 40_000, BASE, ["bytes", "at most"],
     "sweep"),
    ("too-many-values", sweep("description: [" + ", ".join(["1"] * 25_000) + "]\n", GRID),
     BASE, ["more than 20,000 values"], "sweep"),
    ("huge-int", sweep("seed: " + "9" * 5000 + "\n", GRID), BASE,
     ["seed", "a number of 5,000 characters"], "sweep"),
    ("float-overflow", sweep("overrides: {train.lr: 1e999}\n", GRID), BASE,
     ["overrides.train.lr", "overflows to infinity"], "sweep"),
    # --- code and tags ------------------------------------------------------------------------
    ("python-object-tag", sweep("description: !!python/object/apply:os.system "
                                "['touch PWNED']\n", GRID), BASE,
     ["YAML tags are not allowed"], "sweep"),
    ("local-include-tag", sweep("overrides: !include other.yaml\n", GRID), BASE,
     ["tag !include", "not allowed"], "sweep"),
    ("binary-tag-in-base", sweep(GRID), BASE + "extra: !!binary aGVsbG8=\n",
     ["YAML tags are not allowed"], "base"),
    # --- ambiguous YAML -----------------------------------------------------------------------
    ("duplicate-top-key", "name: t\nname: u\nbase: base.yaml\n" + GRID + OBJ, BASE,
     ["name: duplicate key (first at line 1)"], "sweep"),
    ("duplicate-space-key", sweep("space:\n  train.lr: {grid: [0.1]}\n"
                                  "  train.lr: {grid: [0.2]}\n"), BASE,
     ["space.train.lr: duplicate key", "(first at line 4)", ":5:"], "sweep"),
    ("duplicate-key-in-base", sweep(GRID), BASE + "train: {kimg: 1}\n",
     ["train: duplicate key"], "base"),
    ("yaml11-bool-off", sweep("overrides: {eval.save_images: off}\n", GRID), BASE,
     ["overrides.eval.save_images", "'off' is a boolean in YAML 1.1"], "sweep"),
    ("yaml11-bool-as-string", sweep(GRID, head="name: yes\nbase: base.yaml\n"), BASE,
     ["name", "'yes' is a boolean in YAML 1.1", "quote it"], "sweep"),
    ("yaml11-octal", sweep("seed: 012\n", GRID), BASE, ["seed", "octal in YAML 1.1"], "sweep"),
    ("yaml11-sexagesimal", sweep("overrides:\n  train.kimg: 1:30\n", GRID), BASE,
     ["overrides.train.kimg", "base-60"], "sweep"),
    ("yaml11-underscore", sweep("replicates: 1_0\n", GRID), BASE,
     ["replicates", "underscores"], "sweep"),
    ("tab-indent", sweep(GRID) + "search:\n\talgorithm: grid\n", BASE, ["tab character"],
     "sweep"),
    ("two-documents", sweep(GRID) + "---\nname: other\n", BASE,
     ["a second YAML document"], "sweep"),
    ("complex-key", sweep("overrides:\n  ? [train.kimg, train.lr]\n  : 1\n", GRID), BASE,
     ["a mapping key must be a plain name"], "sweep"),
    ("not-utf8", "name: t\nbase: base.yaml\ndescription: caf\xe9\n", BASE, ["not UTF-8"],
     "sweep"),
    # --- sizes nobody can run -----------------------------------------------------------------
    ("grid-product-bomb", sweep(_grid_bomb()), BASE,
     ["the grid has up to 10,000,000,000 points", "cap"], "sweep"),
    ("grid-points-over-cap", sweep(
        "space:\n  train.lr: {grid: [" + ", ".join(f"0.00{i + 1}" for i in range(9))
        + ", " + ", ".join(f"0.0{i + 10}" for i in range(40)) + "]}\n"
        "  train.batch_size: {grid: [" + ", ".join(str(i + 1) for i in range(30)) + "]}\n"),
     BASE, ["more than 1,000 grid points", "--allow-large"], "sweep"),
    ("replicates-cap", sweep("replicates: 1000\n", GRID), BASE,
     ["replicates", "1,000 replicates", "--allow-large"], "sweep"),
    ("trials-cap", sweep("search: {algorithm: optuna, num_trials: 5000}\n",
                         "space:\n  train.lr: {loguniform: [1e-4, 1e-2]}\n"), BASE,
     ["search.num_trials", "5,000 trials", "--allow-large"], "sweep"),
    ("kimg-budget", sweep("overrides: {train.kimg: 1e7}\n", GRID), BASE,
     ["overrides: train.kimg", "kimg of training per trial", "--allow-large"], "sweep"),
    ("kimg-in-base", sweep(GRID), BASE.replace("kimg: 0.64", "kimg: 1e9"),
     ["train.kimg", "kimg of training per trial"], "base"),
    ("samples-budget", sweep("overrides: {eval.num_samples: 1000000}\n", GRID), BASE,
     ["eval.num_samples", "samples per evaluation"], "sweep"),
    ("resolution-budget", sweep("overrides: {data.resolution: 200}\n", GRID), BASE,
     ["data.resolution = 200", "cap is 128"], "sweep"),
    ("model-memory-bomb", sweep("space:\n  model.mlp_hidden: {grid: [64, 100000000]}\n"), BASE,
     ["space.model.mlp_hidden.grid.1", "hidden units"], "sweep"),
    ("evaluation-flood", sweep("overrides: {eval.every_kimg: 0.00001}\n", GRID), BASE,
     ["eval.every_kimg", "64,000 evaluations"], "sweep"),
    ("sfbd-rounds-in-space", sweep(
        "method: {kind: sfbd, pretrain_kimg: 0.32, round_kimg: 0.32}\n",
        "space:\n  method.rounds: {grid: [1, 100000]}\n"), BASE,
     ["space.method.rounds", "rounds"], "sweep"),
    # --- objectives nobody reports ------------------------------------------------------------
    ("psnr-without-sfbd", sweep(GRID, obj="objectives:\n  - {metric: psnr_denoised}\n"), BASE,
     ["objectives.0.metric", "'psnr_denoised' is not reported", "SFBD"], "sweep"),
    ("psnr-sfbd-no-rounds", sweep("method: {kind: sfbd, rounds: 0, pretrain_kimg: 0.32}\n",
                                  "space:\n  method.clean_fraction: {grid: [0.2, 0.4]}\n",
                                  obj="objectives:\n  - {metric: psnr_denoised}\n"), BASE,
     ["objectives.0.metric", "method.rounds >= 1"], "sweep"),
    ("psnr-some-grid-points", sweep(
        "method: {kind: sfbd, pretrain_kimg: 0.32, round_kimg: 0.32}\n",
        "space:\n  method.rounds: {grid: [1, 0]}\n",
        obj="objectives:\n  - {metric: psnr_denoised}\n"), BASE,
     ["space.method.rounds.grid.1", "with method.rounds = 0", "psnr_denoised"], "sweep"),
    ("clean-suffix-undefined", sweep(GRID, obj="objectives:\n  - {metric: fd_digits_cnn}\n"
                                               "  - {metric: mem_ratio_pixels_clean}\n"), BASE,
     ["objectives.1.metric", "no separate clean and noisy training sets"], "sweep"),
    ("clean-suffix-too-small", sweep(
        "method: {kind: edm, train_on: noisy, clean_fraction: 0.02}\n", GRID,
        obj="objectives:\n  - {metric: mem_ratio_pixels_clean}\n"), BASE,
     ["objectives.0.metric", "at least 2 images"], "sweep"),
    ("feature-space-not-computed", sweep(GRID, obj="objectives:\n  - {metric: fid_inception}\n"),
     BASE, ["objectives.0.metric", "'fid_inception'", "computes the 'digits_cnn'"], "sweep"),
    ("dinov2-not-computed", sweep(GRID, obj="objectives:\n  - {metric: mem_ratio_dinov2}\n"),
     BASE, ["objectives.0.metric", "eval.dinov2: true"], "sweep"),
    ("classifier-metric-on-pixels", sweep("overrides: {eval.features: pixels}\n", GRID,
                                          obj="objectives:\n  - {metric: conf90}\n"), BASE,
     ["objectives.0.metric", "digits_cnn"], "sweep"),
    ("holes-without-ambient", sweep(GRID, obj="objectives:\n  - {metric: holes_contrast}\n"),
     BASE, ["objectives.0.metric", "ambient"], "sweep"),
]


class _Slow(Exception):
    pass


@contextlib.contextmanager
def deadline(seconds: float) -> Iterator[None]:
    """Fail (instead of hanging the suite) when the block runs longer than `seconds`."""
    def _alarm(signum: int, frame: object) -> None:
        raise _Slow(f"took longer than {seconds} s")

    previous = signal.signal(signal.SIGALRM, _alarm)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def _write(tmp_path: Path, text: str, base: str) -> Path:
    return write_files(tmp_path, text.encode("latin-1") if "\xe9" in text else text.encode(),
                       base)


def test_enough_cases() -> None:
    assert len(CASES) >= 20
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_hostile_file(case: tuple[str, str, str, list[str], str], tmp_path: Path,
                      monkeypatch: pytest.MonkeyPatch) -> None:
    _, text, base, fragments, named = case
    path = _write(tmp_path, text, base)
    monkeypatch.chdir(tmp_path)  # a payload that ran would write here
    workdir = tmp_path / "runs"
    runner = CliRunner()
    for cmd in (["validate", str(path)], ["plan", str(path), "--workdir", str(workdir)],
                ["run", str(path), "--workdir", str(workdir)]):
        t0 = time.monotonic()
        with deadline(SECONDS):
            res = runner.invoke(app, cmd)
        assert time.monotonic() - t0 < SECONDS
        msg = assert_refused(res, fragments, cmd).strip()
        assert res.exception is None or isinstance(res.exception, SystemExit), res.output
        assert len(msg.splitlines()) == 1, msg  # one message
        assert msg.startswith("error: "), msg
        file = path if named == "sweep" else tmp_path / "base.yaml"
        assert str(file) in msg, msg
        assert re.search(r"\.yaml(:\d+)?: ", msg), msg  # file, then line (where known)
    assert not workdir.exists()  # nothing written: no store, no sweep folder
    assert not (tmp_path / "PWNED").exists()


def test_allow_large_lifts_the_caps(tmp_path: Path) -> None:
    text = sweep("replicates: 100\n", "overrides: {train.kimg: 1e6}\n", GRID)
    path = _write(tmp_path, text, BASE)
    runner = CliRunner()
    res = runner.invoke(app, ["validate", str(path)])
    assert res.exit_code == 2 and "--allow-large" in res.stderr
    res = runner.invoke(app, ["validate", "--allow-large", str(path)])
    assert res.exit_code == 0, res.output
    assert "2 grid points x 100 replicate(s)" in res.output


def test_grid_product_over_hard_cap_even_with_allow_large(tmp_path: Path) -> None:
    path = _write(tmp_path, sweep(_grid_bomb()), BASE)
    with deadline(SECONDS):
        res = CliRunner().invoke(app, ["validate", "--allow-large", str(path)])
    assert res.exit_code == 2
    assert "split the sweep" in res.stderr


def test_yaml12_numbers(tmp_path: Path) -> None:
    """`1e-3` is a number (PyYAML alone reads a string), so `when` matches 0.001."""
    from ambientsweep.spec import load_sweep
    from ambientsweep.spec.load import grid_points

    text = sweep("space:\n  train.lr: {grid: [1e-3, 2.0e-3]}\n"
                 "  train.batch_size: {grid: [16], when: {train.lr: 0.001}}\n")
    loaded = load_sweep(_write(tmp_path, text, BASE))
    points = grid_points(loaded.spec)
    assert points == [{"train.lr": 0.001, "train.batch_size": 16}, {"train.lr": 0.002}]
    assert isinstance(points[0]["train.lr"], float)


def test_quoted_values_stay_strings(tmp_path: Path) -> None:
    from ambientsweep.spec import load_sweep

    text = sweep("description: 'yes'\n", GRID, head="name: 'on'\nbase: base.yaml\n")
    loaded = load_sweep(_write(tmp_path, text, BASE))
    assert loaded.spec.name == "on" and loaded.spec.description == "yes"


def test_missing_inception_weights_stop_the_run_before_anything_starts(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AMBIENTSWEEP_CACHE", str(tmp_path / "empty-cache"))
    text = sweep("overrides: {eval.features: inception}\n", GRID,
                 obj="objectives:\n  - {metric: fid_inception}\n")
    path = _write(tmp_path, text, BASE)
    runner = CliRunner()
    assert runner.invoke(app, ["validate", str(path)]).exit_code == 0  # the file is fine
    with deadline(60):  # `run` checks the machine's resources too (imports Ray)
        res = runner.invoke(app, ["run", str(path), "--workdir", str(tmp_path / "runs")])
    assert res.exit_code == 2, res.output
    assert "inception weights not found" in res.stderr
    assert "ambientsweep fetch-weights inception" in res.stderr
    assert not (tmp_path / "runs").exists()
