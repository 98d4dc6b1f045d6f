"""The conformance suite every method must pass (like optuna's ``testing/pytest_samplers.py``).

Usage, in ``tests/methods/test_<kind>.py``::

    class TestMyMethod(MethodCases):
        @pytest.fixture
        def method(self) -> Method:
            return build_method(tiny_config(MySpec(p=0.4)))

Checks, on a tiny synthetic data set and an MLP denoiser: the train sets are well formed; the
spec's budget equals the fit phases; the loss is a finite per-sample [B] tensor; the same
generator seed gives the same loss; gradients reach every trainable parameter; and for
corrupted train sets, unobserved information cannot change the loss: pixels outside the mask
(both in the originals the set is built from and in the batch the loss sees, unless the method
is a naive baseline), and the clean originals after the set is built.
"""

from __future__ import annotations

from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor

from ambientsweep.config import DataConfig, ModelConfig, TrainConfig, TrialConfig
from ambientsweep.methods.base import Batch, CorruptionInput, Method, TrainSet
from ambientsweep.models.precond import Denoiser, build_denoiser

__all__ = ["MethodCases", "tiny_config", "tiny_corruption_input"]


def tiny_config(method_spec: Any, **train: Any) -> TrialConfig:
    """A TrialConfig with a tiny MLP backbone and batch 4 around `method_spec`."""
    return TrialConfig(
        data=DataConfig(train_size=12, reference_size=10),
        model=ModelConfig(backbone="mlp", mlp_hidden=32, mlp_layers=3),
        train=TrainConfig(**{"kimg": 0.02, "batch_size": 4, **train}),
        method=method_spec,
    )


def tiny_corruption_input(n: int = 12, channels: int = 1, resolution: int = 8) -> CorruptionInput:
    """`n` random images in [-1, 1] with non-contiguous ids (so ids and positions differ)."""
    g = torch.Generator().manual_seed(1234)
    x = torch.rand(n, channels, resolution, resolution, generator=g) * 2 - 1
    return CorruptionInput(x=x, index=torch.arange(n, dtype=torch.int64) * 3 + 100)


def _perturbed(net: Denoiser) -> Denoiser:
    # Zero-initialised output layers would stop every gradient but theirs at init.
    g = torch.Generator().manual_seed(7)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return net


def _loss(method: Method, net: Denoiser, batch: Batch, seed: int = 0) -> Tensor:
    return method.loss(net, batch, torch.Generator().manual_seed(seed))


def _corrupted(sets: dict[str, TrainSet]) -> dict[str, TrainSet]:
    return {k: s for k, s in sets.items() if s.mask is not None or s.sigma_n is not None}


class MethodCases:
    """Reusable conformance tests; subclasses provide a ``method`` fixture (a fresh instance)."""

    #: False for naive baselines that train on masked observations as if clean: they may read
    #: the zeros at erased pixels, so only the originals-side invariance is checked for them.
    loss_ignores_unobserved_pixels: ClassVar[bool] = True
    batch_size: ClassVar[int] = 4

    @pytest.fixture
    def method(self) -> Method:
        raise NotImplementedError("subclasses provide the `method` fixture")

    @pytest.fixture
    def view(self) -> CorruptionInput:
        return tiny_corruption_input()

    @pytest.fixture
    def sets(self, method: Method, view: CorruptionInput) -> dict[str, TrainSet]:
        return method.train_sets(view)

    @pytest.fixture
    def net(self, method: Method, view: CorruptionInput) -> Denoiser:
        torch.manual_seed(0)  # test-local: parameter init only
        c, h = int(view.x.shape[1]), int(view.x.shape[2])
        net = build_denoiser(
            method.config.model, channels=c, resolution=h, extra_channels=method.extra_channels
        )
        return _perturbed(net)

    def _batch(self, ts: TrainSet) -> Batch:
        rows = torch.arange(min(self.batch_size, len(ts)))
        return ts.take(rows)

    # ------------------------------------------------------------------------------------------

    def test_train_sets_well_formed(
        self, method: Method, sets: dict[str, TrainSet], view: CorruptionInput
    ) -> None:
        assert sets, "a method must build at least one train set"
        known = set(view.index.tolist())
        for name, ts in sets.items():
            n = len(ts)
            assert n > 0, name
            assert ts.x.shape[1:] == view.x.shape[1:], name
            assert torch.isfinite(ts.x).all(), name
            assert ts.index.shape == (n,) and set(ts.index.tolist()) <= known, name
            if ts.mask is not None:
                assert ts.mask.shape == (n, 1, *view.x.shape[2:]), name
            if ts.sigma_n is not None:
                assert ts.sigma_n.shape == (n,), name
        fit_data = {p.data for p in method.phases() if p.kind == "fit"}
        assert fit_data & set(sets), "no fit phase trains on a set built by train_sets()"

    def test_budget_is_the_fit_phases(self, method: Method) -> None:
        fits = sum(p.kimg for p in method.phases() if p.kind == "fit")
        assert method.total_kimg() == pytest.approx(fits)
        # The spec's torch-free budget (TrialConfig.total_kimg) agrees with the schedule.
        assert method.config.total_kimg == pytest.approx(fits)

    def test_loss_is_finite_per_sample(
        self, method: Method, sets: dict[str, TrainSet], net: Denoiser
    ) -> None:
        for name, ts in sets.items():
            batch = self._batch(ts)
            loss = _loss(method, net, batch)
            assert loss.shape == (len(batch.x),), name
            assert torch.isfinite(loss).all(), name

    def test_same_seed_same_loss(
        self, method: Method, sets: dict[str, TrainSet], net: Denoiser
    ) -> None:
        for ts in sets.values():
            batch = self._batch(ts)
            torch.testing.assert_close(_loss(method, net, batch), _loss(method, net, batch))
            assert not torch.equal(_loss(method, net, batch, 0), _loss(method, net, batch, 1))

    def test_gradients_reach_every_parameter(
        self, method: Method, sets: dict[str, TrainSet], net: Denoiser
    ) -> None:
        for name, ts in sets.items():
            net.zero_grad(set_to_none=True)
            _loss(method, net, self._batch(ts)).mean().backward()
            for pname, p in net.named_parameters():
                if p.requires_grad:
                    assert p.grad is not None, f"{name}: no gradient reaches {pname}"
                    assert torch.isfinite(p.grad).all(), f"{name}: {pname}"
                    assert p.grad.abs().sum() > 0, f"{name}: zero gradient at {pname}"

    def test_unobserved_pixels_cannot_change_loss(
        self, method: Method, view: CorruptionInput, net: Denoiser
    ) -> None:
        sets = _corrupted(method.train_sets(view))
        masked = {k: s for k, s in sets.items() if s.mask is not None}
        if not masked:
            pytest.skip("no masked train set")
        g = torch.Generator().manual_seed(99)
        position = {int(i): p for p, i in enumerate(view.index.tolist())}
        for name, ts in masked.items():
            assert ts.mask is not None
            rows = torch.tensor([position[int(i)] for i in ts.index.tolist()])
            # (a) originals differing only outside the mask build the same train set.
            other = view.x.clone()
            noise = torch.randn(other[rows].shape, generator=g) * 3
            other[rows] = torch.where(ts.mask.bool(), other[rows], noise)
            again = type(method)(method.config.method, method.config).train_sets(
                CorruptionInput(x=other, index=view.index.clone())
            )[name]
            batch, batch2 = self._batch(ts), self._batch(again)
            torch.testing.assert_close(_loss(method, net, batch), _loss(method, net, batch2))
            # (b) the loss itself ignores whatever sits at unobserved pixels of the batch.
            if self.loss_ignores_unobserved_pixels:
                assert batch.mask is not None
                junk = torch.randn(batch.x.shape, generator=g) * 3
                x = torch.where(batch.mask.bool(), batch.x, junk)
                changed = Batch(x=x, index=batch.index, mask=batch.mask, sigma_n=batch.sigma_n)
                torch.testing.assert_close(_loss(method, net, batch), _loss(method, net, changed))

    def test_originals_cannot_change_loss_of_corrupted_sets(
        self, method: Method, view: CorruptionInput, net: Denoiser
    ) -> None:
        sets = _corrupted(method.train_sets(view))
        if not sets:
            pytest.skip("no corrupted train set")
        before = {k: _loss(method, net, self._batch(s)) for k, s in sets.items()}
        snapshot = {k: s.x.clone() for k, s in sets.items()}
        with torch.no_grad():
            view.x.copy_(torch.randn(view.x.shape, generator=torch.Generator().manual_seed(5)))
        for name, ts in sets.items():
            assert torch.equal(ts.x, snapshot[name]), f"{name} aliases the clean originals"
            torch.testing.assert_close(_loss(method, net, self._batch(ts)), before[name])
