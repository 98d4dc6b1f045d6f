"""The one Trainer: runs a method's phases (fit / action) with Adam, EMA, logging and checkpoints.

Methods never write a training loop. A fit phase draws minibatches from an in-memory train set
(resident on the device, indices from a seeded generator) and minimises ``method.loss``; an
action phase (SFBD's backward step) gets the current EMA denoiser and may replace a train set.
"""

from __future__ import annotations

import contextlib
import math
import shutil
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Protocol

import torch
from torch import Tensor

from ambientsweep.config import TrialConfig
from ambientsweep.errors import DivergedError
from ambientsweep.methods.base import ActionContext, CorruptionInput, Method, Phase, TrainSet
from ambientsweep.metrics import names
from ambientsweep.models.precond import Denoiser, build_denoiser
from ambientsweep.tracking.reporter import Reporter
from ambientsweep.training.checkpoint import (
    CHECKPOINT_NAME,
    VARIANT_KEY,
    check_variant,
    config_to_json,
    load_checkpoint,
    method_variant,
    save_checkpoint,
)
from ambientsweep.training.ema import EMA
from ambientsweep.utils.seeding import derive_seed, generator
from ambientsweep.versions import SCHEMA_VERSION, VERSION_KEY, IncompatibleVersion, check_version

# ----------------------------------------------------------------------------------------------
# What the trial plugs in.


@dataclass
class EvalPoint:
    """Handed to ``Hooks.evaluate``: the EMA model at one point of training."""

    net: Denoiser  # the EMA model, eval mode
    method: Method
    step: int  # images seen
    kimg: float
    phase: str
    round: int | None  # SFBD round of the phase just finished
    final: bool


class Hooks(Protocol):
    def evaluate(self, point: EvalPoint) -> dict[str, float]:
        """Sample and measure; the trainer reports what this returns at step = images seen."""
        ...

    def on_denoised(self, denoised: TrainSet, round: int) -> dict[str, float]:
        """E.g. psnr_denoised (the trial holds the originals); reported at step = round."""
        ...


class NoHooks:
    """Hooks that measure nothing (tests, benchmarks)."""

    def evaluate(self, point: EvalPoint) -> dict[str, float]:
        return {}

    def on_denoised(self, denoised: TrainSet, round: int) -> dict[str, float]:
        return {}


# ----------------------------------------------------------------------------------------------


class Trainer:
    """Trains ``method`` on ``splits`` for ``config``; resumes from ``workdir/checkpoint.pt``.

    Args:
        config: the resolved trial config (its hash keys the training randomness).
        method: the method plug-in (built by ``build_method``).
        splits: ``ambientsweep.data.datasets.Splits``; only ``train``/``train_index`` are used,
            and only through ``method.train_sets``.
        device: where the model and the train sets live.
        reporter: receives ``loss`` every ``train.log_every_kimg`` and the hooks' metrics.
        hooks: evaluation (every ``eval.every_kimg``, after each SFBD round, final) and the
            SFBD denoised-set callback.
        workdir: holds ``checkpoint.pt``; a checkpoint of the same config hash is resumed.
        on_checkpoint: when given, intermediate checkpoints are handed to it as a folder that
            holds ``checkpoint.pt`` (the trial reports it through Ray Tune, which keeps the one
            copy) and the folder is deleted afterwards; only the final checkpoint stays in
            ``workdir``. Without it every checkpoint is ``workdir/checkpoint.pt``.
        resume_from: a checkpoint file to resume from instead of ``workdir/checkpoint.pt``
            (what Ray Tune restored).
    """

    def __init__(
        self,
        config: TrialConfig,
        method: Method,
        splits: Any,
        *,
        device: torch.device,
        reporter: Reporter,
        hooks: Hooks,
        workdir: Path,
        on_checkpoint: Callable[[Path], None] | None = None,
        resume_from: Path | None = None,
    ) -> None:
        t = config.train
        self.config, self.method, self.reporter, self.hooks = config, method, reporter, hooks
        self.device = torch.device(device)
        self.workdir = Path(workdir)
        self.checkpoint_path = self.workdir / CHECKPOINT_NAME
        self.on_checkpoint = on_checkpoint
        self._every_s = (t.checkpoint_every_minutes * 60 if t.checkpoint_every_minutes
                         else math.inf)
        self._last_save = time.monotonic()
        self._hash = config.config_hash()
        if self.device.type == "cuda" and t.gpu_memory_fraction is not None:
            torch.cuda.set_per_process_memory_fraction(t.gpu_memory_fraction, self.device)

        sets = method.train_sets(CorruptionInput.from_splits(splits))
        self.train_sets: dict[str, TrainSet] = {k: v.to(self.device) for k, v in sets.items()}
        self._replaced: set[str] = set()  # train sets installed by actions (checkpointed)
        self.phases: list[Phase] = method.phases()
        if not self.phases:
            raise ValueError(f"method {method.kind!r} declares no phases")
        c, h, w = (int(v) for v in splits.train.shape[1:])
        if h != w:
            raise ValueError(f"square images expected, got {h}x{w}")
        self.image_shape = (c, h, w)

        # Deterministic init without touching the global RNG: fork it, seed it, build.
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(derive_seed(config.seed, config.replicate, self._hash, "init"))
            net = build_denoiser(
                config.model, channels=c, resolution=h, extra_channels=method.extra_channels
            )
        self.net = net.to(self.device).train()
        self.ema = EMA(self.net, t.ema_decay, t.ema_warmup)
        self.opt = torch.optim.Adam(self.net.parameters(), lr=t.lr, betas=t.betas, eps=t.eps)
        self.train_net: Any = torch.compile(self.net) if t.compile else self.net
        self.generator = generator(
            config.seed, config.replicate, self._hash, "train", device=self.device
        )
        self._dropout_seed = derive_seed(config.seed, config.replicate, self._hash, "dropout")
        self._rng_state: dict[str, Tensor] = {}
        self._bf16 = self.device.type == "cuda" and t.precision == "bf16"
        self._check_every_step = self.device.type == "cpu"  # a sync per step is free on CPU

        # Progress (all checkpointed).
        self.step = 0  # optimizer steps
        self.nimg = 0  # images seen
        self.phase_index = 0
        self.phase_nimg = 0  # images seen in the current phase
        self._loss_sum = torch.zeros((), device=self.device)
        self._loss_count = 0
        self._next_log = self._after(t.log_every_kimg)
        self._next_eval = self._after(config.eval.every_kimg)
        self._next_ckpt = self._after(t.checkpoint_every_kimg)
        self._last_eval_nimg = -1
        self.resumed = False
        self.resumed_from_nimg = 0  # images seen when the checkpoint resumed from was written
        source = Path(resume_from) if resume_from is not None else self.checkpoint_path
        if source.exists():
            self._resume_from(load_checkpoint(source, map_location=self.device), source)

    def _resume_from(self, state: dict[str, Any], source: Path) -> None:
        """Continue from `state` when it is of a resumable schema version and this config."""
        try:
            check_version(state.get(VERSION_KEY), "resume", str(source))
        except IncompatibleVersion as e:
            warnings.warn(f"{e} Starting afresh.", stacklevel=3)
            return
        if state.get("config_hash") == self._hash:
            check_variant(state, self.config, source)
            self._load_state(state)
            self.resumed = True
            self.resumed_from_nimg = self.nimg
        else:
            warnings.warn(
                f"{source} belongs to another config; starting afresh",
                stacklevel=3,
            )

    # ------------------------------------------------------------------------------------------
    # The loop.

    def run(self) -> dict[str, float]:
        """Run the remaining phases, then the final evaluation; returns its metrics."""
        self.reporter.set_tags(self.method.tags())
        with self._training_rng():
            while self.phase_index < len(self.phases):
                phase = self.phases[self.phase_index]
                if phase.kind == "fit":
                    self._run_fit(phase)
                else:
                    self._run_action(phase)
                self.phase_index += 1
                self.phase_nimg = 0
                if phase.kind == "action" and self.config.train.checkpoint_every_kimg:
                    self._intermediate_save()
            self._flush_loss()
            self.save()
        return self._evaluate(self.phases[-1], final=True)

    def _run_fit(self, phase: Phase) -> None:
        if phase.data not in self.train_sets:
            raise KeyError(
                f"phase {phase.name!r} fits on train set {phase.data!r}, which does not exist "
                f"(have: {sorted(self.train_sets)})"
            )
        data = self.train_sets[phase.data]
        t = self.config.train
        batch = t.batch_size
        if phase.from_ema and self.phase_nimg == 0:
            self._restart_from_ema()
        phase_images = math.ceil(phase.kimg * 1000 / batch) * batch
        is_last = self.phase_index == len(self.phases) - 1
        while self.phase_nimg < phase_images:
            loss = self._train_step(data, self.phase_nimg if phase.from_ema else self.nimg)
            self.nimg += batch
            self.phase_nimg += batch
            self.step += 1
            self._loss_sum += loss
            self._loss_count += 1
            if self._check_every_step:
                self._check_finite(loss, phase)
            if self.nimg >= self._next_log:
                self._check_finite(self._loss_sum, phase)
                self._flush_loss()
                self._next_log = self._after(t.log_every_kimg)
            saved = self.nimg >= self._next_ckpt
            if saved or time.monotonic() - self._last_save >= self._every_s:
                self._next_ckpt = self._after(t.checkpoint_every_kimg)
                self._intermediate_save()
                saved = True
            if self.nimg >= self._next_eval:
                self._next_eval = self._after(self.config.eval.every_kimg)
                if not (is_last and self.phase_nimg >= phase_images):  # the final eval follows
                    self._evaluate(phase, final=False)
                    if t.checkpoint_at_eval and not saved:  # resume after, not before, it
                        self._intermediate_save()
        self._check_finite(self._loss_sum, phase)
        if phase.round is not None and not is_last and self._last_eval_nimg != self.nimg:
            self._flush_loss()
            self._evaluate(phase, final=False)
            if t.checkpoint_at_eval:
                self._intermediate_save()

    def _restart_from_ema(self) -> None:
        """Raw weights := EMA weights, a fresh Adam (EDM's --transfer; SFBD's official rounds).

        The EMA itself continues (its warm-up is not restarted, as the official code disables
        the EMA ramp-up when transferring); the lr ramp restarts from the phase's first image.
        """
        self.net.load_state_dict(self.ema.model.state_dict())
        t = self.config.train
        self.opt = torch.optim.Adam(self.net.parameters(), lr=t.lr, betas=t.betas, eps=t.eps)

    def _train_step(self, data: TrainSet, ramp_nimg: int) -> Tensor:
        """One optimizer step on a minibatch; returns the detached mean loss.

        `ramp_nimg`: images seen so far on the clock of the lr ramp-up (the whole run, or the
        phase for a phase that restarts from the EMA).
        """
        t = self.config.train
        rows = torch.randint(
            len(data), (t.batch_size,), generator=self.generator, device=self.generator.device
        ).to(data.x.device)
        batch = data.take(rows)
        lr = t.lr
        if t.lr_rampup_kimg > 0:
            lr *= min(1.0, (ramp_nimg + t.batch_size) / (t.lr_rampup_kimg * 1000))
        for group in self.opt.param_groups:
            group["lr"] = lr
        with self._autocast():
            loss = self.method.loss(self.train_net, batch, self.generator).mean()
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        if t.grad_clip is not None:
            torch.nn.utils.clip_grad_norm_(self.net.parameters(), t.grad_clip)
        self.opt.step()
        self.ema.update(self.net, self.step)
        return loss.detach().float()

    def _run_action(self, phase: Phase) -> None:
        assert phase.action is not None
        ctx = ActionContext(
            net=self.ema.model,
            method=self.method,
            device=self.device,
            generator=generator(
                self.config.seed,
                self.config.replicate,
                self._hash,
                "action",
                phase.name,
                device=self.device,
            ),
            train_sets=MappingProxyType(self.train_sets),
            replace_train_set=self.replace_train_set,
            on_denoised=self._on_denoised,
            phase=phase,
        )
        phase.action(ctx)

    def replace_train_set(self, name: str, train_set: TrainSet) -> None:
        """Install (or replace) the named train set, e.g. SFBD's denoised observations."""
        self.train_sets[name] = train_set.to(self.device)
        self._replaced.add(name)

    def _on_denoised(self, denoised: TrainSet, round: int) -> dict[str, float]:
        metrics = self.hooks.on_denoised(denoised, round)
        if metrics:
            self.reporter.report(metrics, step=round)
        return metrics

    def _evaluate(self, phase: Phase, *, final: bool) -> dict[str, float]:
        point = EvalPoint(
            net=self.ema.model,
            method=self.method,
            step=self.nimg,
            kimg=self.nimg / 1000,
            phase=phase.name,
            round=phase.round,
            final=final,
        )
        metrics = self.hooks.evaluate(point)
        self._last_eval_nimg = self.nimg
        if metrics:
            self.reporter.report(metrics, step=self.nimg)
        return metrics

    # ------------------------------------------------------------------------------------------
    # Helpers.

    def _after(self, every_kimg: float | None) -> float:
        """The next multiple of `every_kimg` (in images) strictly after the images seen."""
        if every_kimg is None:
            return math.inf
        every = every_kimg * 1000
        return (math.floor(self.nimg / every + 1e-9) + 1) * every

    def _flush_loss(self) -> None:
        if self._loss_count:
            mean = float(self._loss_sum) / self._loss_count
            self.reporter.report({names.LOSS: mean}, step=self.nimg)
        self._loss_sum.zero_()
        self._loss_count = 0

    def _check_finite(self, loss: Tensor, phase: Phase) -> None:
        value = float(loss)
        if not math.isfinite(value):
            err = DivergedError(
                f"training loss is {value} at step {self.nimg} (images seen), phase {phase.name!r}"
            )
            err.step = self.nimg  # type: ignore[attr-defined]
            raise err

    def _autocast(self) -> contextlib.AbstractContextManager[Any]:
        if self._bf16:
            return torch.autocast(device_type=self.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    @contextlib.contextmanager
    def _training_rng(self) -> Iterator[None]:
        """Dropout draws from the global RNG: fork it and seed it per trial (checkpointed)."""
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices):
            if "cpu" in self._rng_state:
                torch.set_rng_state(self._rng_state["cpu"])
                if devices and "cuda" in self._rng_state:
                    torch.cuda.set_rng_state(self._rng_state["cuda"], self.device)
            else:
                torch.manual_seed(self._dropout_seed)
            try:
                yield
            finally:
                self._rng_state = {}

    def _global_rng_state(self) -> dict[str, Tensor]:
        state = {"cpu": torch.get_rng_state()}
        if self.device.type == "cuda":
            state["cuda"] = torch.cuda.get_rng_state(self.device)
        return state

    # ------------------------------------------------------------------------------------------
    # Checkpoints.

    def state_dict(self) -> dict[str, Any]:
        return {
            "config": config_to_json(self.config),
            "config_hash": self._hash,
            VARIANT_KEY: method_variant(self.config),
            VERSION_KEY: SCHEMA_VERSION,
            "image_shape": list(self.image_shape),
            "extra_channels": int(self.method.extra_channels),
            "net": self.net.state_dict(),
            "ema": self.ema.model.state_dict(),
            "optimizer": self.opt.state_dict(),
            "step": self.step,
            "nimg": self.nimg,
            "phase_index": self.phase_index,
            "phase_nimg": self.phase_nimg,
            "generator": self.generator.get_state(),
            "global_rng": self._global_rng_state(),
            "loss_sum": self._loss_sum.detach().cpu(),
            "loss_count": self._loss_count,
            "next": [self._next_log, self._next_eval, self._next_ckpt],
            "train_sets": {k: self.train_sets[k].state_dict() for k in sorted(self._replaced)},
        }

    def _load_state(self, state: dict[str, Any]) -> None:
        self.net.load_state_dict(state["net"])
        self.ema.model.load_state_dict(state["ema"])
        self.opt.load_state_dict(state["optimizer"])
        self.step, self.nimg = int(state["step"]), int(state["nimg"])
        self.phase_index, self.phase_nimg = int(state["phase_index"]), int(state["phase_nimg"])
        self.generator.set_state(state["generator"].cpu())
        self._rng_state = {k: v.cpu() for k, v in state["global_rng"].items()}
        self._loss_sum = state["loss_sum"].to(self.device)
        self._loss_count = int(state["loss_count"])
        self._next_log, self._next_eval, self._next_ckpt = (float(v) for v in state["next"])
        for name, ts in state["train_sets"].items():
            self.replace_train_set(name, TrainSet.from_state_dict(ts))

    def save(self) -> Path:
        """Write the checkpoint atomically to ``workdir/checkpoint.pt``; returns its path."""
        state = self.state_dict()
        save_checkpoint(self.checkpoint_path, state)
        self._last_save = time.monotonic()
        return self.checkpoint_path

    def _intermediate_save(self) -> None:
        """A checkpoint to resume from: handed to `on_checkpoint` (then deleted) or kept."""
        if self.on_checkpoint is None:
            self.save()
            return
        folder = self.workdir / "checkpoint-pending"
        save_checkpoint(folder / CHECKPOINT_NAME, self.state_dict())
        try:
            self.on_checkpoint(folder)
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        self._last_save = time.monotonic()
