"""A fourth method, registered here alone, is accepted everywhere without editing another file.

``toy`` trains the EDM loss scaled by a factor, in two fit phases (a warm-up of its own length,
then ``train.kimg``), and has a key of its own under ``--smoke``. Registering it must make the
config union, the sweep loader's error texts, the JSON Schema, ``plan`` and ``run_trial`` take
it; unregistering must leave nothing behind for the other tests.
"""

from __future__ import annotations

import json
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar, Literal

import pytest
import torch
import yaml
from pydantic import Field, ValidationError
from torch import Tensor
from typer.testing import CliRunner

from ambientsweep.cli import app
from ambientsweep.config import TrialConfig
from ambientsweep.methods import (
    METHODS,
    Batch,
    MethodBase,
    MethodSpecBase,
    Phase,
    build_method,
    edm_loss,
    kinds,
    register,
    unregister,
)
from ambientsweep.spec import SpecError, SweepSpec, load_sweep
from ambientsweep.testing import MethodCases, tiny_config
from ambientsweep.tracking.reporter import ListReporter
from tests.conftest import TINY_BASE


class ToySpec(MethodSpecBase):
    """The throwaway method's spec: a loss scale and a warm-up phase length."""

    kind: Literal["toy"] = "toy"
    scale: float = Field(2.0, gt=0.0)
    warmup_kimg: float = Field(0.32, gt=0.0)

    smoke_overrides: ClassVar[dict[str, Any]] = {"method.warmup_kimg": 0.16}

    def budget_kimg(self, config: TrialConfig) -> float:
        return self.warmup_kimg + config.train.kimg

    @classmethod
    def method_class(cls) -> type[Toy]:
        return Toy


class Toy(MethodBase):
    """EDM loss times ``scale``; two fit phases on the clean training images."""

    spec: ToySpec

    def loss(self, net: Any, batch: Batch, generator: torch.Generator) -> Tensor:
        t = self.config.train
        return self.spec.scale * edm_loss(net, batch.x, p_mean=t.p_mean, p_std=t.p_std,
                                          generator=generator)

    def phases(self) -> list[Phase]:
        return [Phase("warmup", "fit", kimg=self.spec.warmup_kimg),
                Phase("fit", "fit", kimg=self.config.train.kimg)]


@pytest.fixture
def toy() -> Iterator[type[ToySpec]]:
    register(ToySpec)
    try:
        yield ToySpec
    finally:
        unregister("toy")


def _sweep(tmp_path: Path, method: str) -> Path:
    (tmp_path / "base.yaml").write_text(TINY_BASE)
    path = tmp_path / "toy.yaml"
    path.write_text(textwrap.dedent(f"""\
        name: toy
        base: base.yaml
        method: {method}
        space:
          method.scale: {{grid: [1.0, 3.0]}}
        objectives:
          - {{metric: fd_digits_cnn}}
    """))
    return path


def test_a_registered_method_validates(toy: type[ToySpec], tmp_path: Path) -> None:
    assert "toy" in kinds() and METHODS["toy"] is Toy
    cfg = TrialConfig.model_validate({"method": {"kind": "toy", "scale": 3.0}})
    assert isinstance(cfg.method, ToySpec) and cfg.method.scale == 3.0
    assert TrialConfig.model_validate_json(cfg.model_dump_json()) == cfg
    # The budget is the method's own schedule: both fit phases.
    assert cfg.total_kimg == pytest.approx(0.32 + cfg.train.kimg)

    loaded = load_sweep(_sweep(tmp_path, "{kind: toy, scale: 2.0}"))
    assert loaded.method_kind == "toy"
    assert loaded.trial_config({"method.scale": 1.0}).method.scale == 1.0
    res = CliRunner().invoke(app, ["validate", str(tmp_path / "toy.yaml")])
    assert res.exit_code == 0, res.output
    assert "(toy), 2 grid points" in res.output

    # Error texts list its keys and its kind.
    with pytest.raises(SpecError) as e:
        load_sweep(_sweep(tmp_path, "{kind: toy, scal: 2.0}"))
    assert "did you mean 'scale'" in str(e.value) and "warmup_kimg" in str(e.value)
    with pytest.raises(SpecError) as e:
        load_sweep(_sweep(tmp_path, "{kind: nope}"))
    assert "allowed: edm, ambient, ambient_tn, sfbd, toy" in str(e.value)
    with pytest.raises(SpecError) as e:
        load_sweep(_sweep(tmp_path, "{kind: toy, scale: -1}"))
    assert "method.scale" in str(e.value) and "greater than 0" in str(e.value)


def test_the_schema_lists_a_registered_method(toy: type[ToySpec]) -> None:
    for model in (SweepSpec, TrialConfig):
        text = json.dumps(model.model_json_schema())
        assert '"toy"' in text and "warmup_kimg" in text
    res = CliRunner().invoke(app, ["schema", "config"])
    assert res.exit_code == 0 and "warmup_kimg" in res.output


def test_plan_takes_a_registered_method(toy: type[ToySpec], tmp_path: Path) -> None:
    from ambientsweep.commands.run import make_plan

    sweep = _sweep(tmp_path, "{kind: toy}")
    smoke = make_plan(sweep, workdir=tmp_path / "runs", smoke=True)
    assert smoke.loaded.trial_config({}).method.warmup_kimg == 0.16  # its smoke key
    res = CliRunner().invoke(app, ["plan", str(sweep), "-w", str(tmp_path / "runs")])
    assert res.exit_code == 0, res.output
    assert "method     toy" in res.output and "2 grid points" in res.output
    # Two fit phases of 0.32 + 0.64 kimg at batch 32: 30 steps.
    assert "x 30 steps" in res.output


def test_run_trial_takes_a_registered_method(toy: type[ToySpec], tmp_path: Path) -> None:
    from ambientsweep.trial import run_trial

    raw = yaml.safe_load(TINY_BASE)
    raw["method"] = {"kind": "toy", "scale": 2.0, "warmup_kimg": 0.32}
    raw["eval"]["save_images"] = False
    reporter = ListReporter()
    result = run_trial(TrialConfig.model_validate(raw), reporter, tmp_path / "trial",
                       cache_dir=tmp_path / "cache")
    assert reporter.tags["method"] == "toy"
    assert result.metrics["budget_complete"] == 1.0
    assert result.metrics["fd_digits_cnn"] > 0.0
    # Both phases ran: (0.32 + 0.64) kimg = 960 images seen.
    assert max(step for step, _ in reporter.series("loss")) <= 960
    assert json.loads((tmp_path / "trial" / "config.json").read_text())["method"]["kind"] == "toy"


class TestToyConformance(MethodCases):
    """The throwaway method passes the same conformance suite as the built-ins."""

    @pytest.fixture
    def method(self, toy: type[ToySpec]) -> MethodBase:
        return build_method(tiny_config(ToySpec(warmup_kimg=0.01)))


def test_unregistering_leaves_the_built_ins(tmp_path: Path) -> None:
    register(ToySpec)
    unregister("toy")
    assert kinds() == ("edm", "ambient", "ambient_tn", "sfbd")
    with pytest.raises(ValidationError, match="expected tags"):
        TrialConfig.model_validate({"method": {"kind": "toy"}})
    assert '"toy"' not in json.dumps(SweepSpec.model_json_schema())
    register(ToySpec)
    try:
        with pytest.raises(ValueError, match="already registered"):
            register(type("OtherToySpec", (ToySpec,), {}))
    finally:
        unregister("toy")
    assert "toy" not in kinds()
