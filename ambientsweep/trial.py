"""One trial as plain Python: config -> trained model -> metrics. Never imports ray or mlflow.

``run_trial`` is what Ray runs for every point of a sweep, what the overhead benchmark calls in a
plain loop, and what tests call directly with a :class:`ListReporter`.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import torch

from ambientsweep.config import TrialConfig
from ambientsweep.data.datasets import Splits, load_splits
from ambientsweep.methods import build_method
from ambientsweep.methods.base import Method, TrainSet
from ambientsweep.metrics import names
from ambientsweep.metrics.evaluate import Evaluator
from ambientsweep.tracking.datasets import training_data
from ambientsweep.tracking.reporter import Reporter
from ambientsweep.tracking.tags import TAG_RESUMED_KIMG
from ambientsweep.training.trainer import EvalPoint, Trainer
from ambientsweep.utils.seeding import generator

BUDGET_COMPLETE = names.BUDGET_COMPLETE  # reported as 1.0 with the final metrics


@dataclass
class TrialResult:
    metrics: dict[str, float]
    seconds: float
    workdir: Path
    images: dict[str, Path] = field(default_factory=dict)


def resolve_device(config: TrialConfig) -> torch.device:
    """The trial's device: CUDA when asked for (error if absent) or available under 'auto'."""
    want = config.train.device
    if want == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("train.device is 'cuda' but no CUDA device is visible to this trial")
    if want == "cuda" or (want == "auto" and torch.cuda.is_available()):
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


class _TrialHooks:
    """Evaluation with the clean originals: the only place the trial hands them out."""

    def __init__(self, config: TrialConfig, splits: Splits, method: Method, evaluator: Evaluator,
                 workdir: Path, device: torch.device) -> None:
        self.config, self.splits, self.method = config, splits, method
        self.evaluator, self.workdir, self.device = evaluator, workdir, device
        self.images: dict[str, Path] = {}
        self.eval_seconds = 0.0  # sampling + metrics, for the evaluation-cost benchmark
        self._pos = {int(i): k for k, i in enumerate(splits.train_index.tolist())}

    def _originals(self, ids: torch.Tensor) -> torch.Tensor:
        return self.splits.train[[self._pos[int(i)] for i in ids.tolist()]]

    def evaluate(self, point: EvalPoint) -> dict[str, float]:
        t0 = time.perf_counter()
        gen = generator(self.config.seed, self.config.replicate, "eval", point.step,
                        device=self.device)
        with torch.no_grad():
            samples = self.method.sample(point.net, self.config.eval.num_samples, gen)
        if self.config.sampler.clip:
            samples = samples.clamp(-1, 1)
        tag = "final" if point.final else f"step{point.step:09d}"
        out_dir = self.workdir / "eval" / tag if self.config.eval.save_images else None
        # The method says which images count as its training set (known after train_sets()).
        # (The ratio test needs two neighbours: a set of one image has no memorization metric.)
        targets = {suffix: self._originals(ids)
                   for suffix, ids in self.method.memorization_sets().items() if len(ids) >= 2}
        metrics, paths = self.evaluator(samples.float().cpu(), targets, out_dir=out_dir,
                                        step=point.step)
        metrics.update(self.method.sample_metrics(samples.float().cpu()))
        if out_dir is not None:
            torch.save(samples.cpu(), out_dir / "samples.pt")
        for p in paths:  # samples_<step>.png, gallery_<step>.png, similarity_<step>.png
            self.images[p.stem.rsplit("_", 1)[0]] = p
        if point.round is not None:
            metrics = {**metrics, names.ROUND: float(point.round)}
        self.eval_seconds += time.perf_counter() - t0
        return metrics

    def on_denoised(self, denoised: TrainSet, round: int) -> dict[str, float]:
        """PSNR of the denoised training images against their hidden originals (SFBD)."""
        originals = self._originals(denoised.index)
        x = denoised.x.float().cpu().clamp(-1, 1)
        mse = ((x - originals) ** 2).flatten(1).mean(1)
        psnr = 10 * torch.log10(4.0 / mse.clamp_min(1e-12))  # peak-to-peak range 2 -> 4
        return {names.PSNR_DENOISED: float(psnr.mean()), names.ROUND: float(round)}


def run_trial(config: TrialConfig, reporter: Reporter, workdir: Path,
              cache_dir: Path | None = None, *,
              on_checkpoint: Callable[[Path], None] | None = None,
              resume_from: Path | None = None) -> TrialResult:
    """Train one configuration and evaluate it; metrics and pictures go to `reporter`.

    Args:
        config: the resolved trial config.
        reporter: where metrics, tags and artifacts go (Ray+MLflow in a sweep, a list in tests).
        workdir: the trial's own folder (checkpoint, evaluation images); created if missing.
        cache_dir: shared caches (feature extractors); default ``workdir/cache``.
        on_checkpoint, resume_from: where intermediate checkpoints go and the one to resume
            from (see :class:`~ambientsweep.training.trainer.Trainer`; Ray Tune in a sweep).

    Returns:
        The final metrics, including ``budget_complete = 1.0``.
    """
    t0 = time.perf_counter()
    workdir = Path(workdir).resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    cache_dir = Path(cache_dir).resolve() if cache_dir else workdir / "cache"
    if config.train.num_threads:
        torch.set_num_threads(config.train.num_threads)
    device = resolve_device(config)
    (workdir / "config.json").write_text(json.dumps(config.model_dump(mode="json"), indent=1))

    splits = load_splits(config.data, seed=config.seed, replicate=config.replicate)
    reporter.training_data(training_data(
        config.data.name, splits.train_index.tolist(), seed=config.seed,
        replicate=config.replicate,
        source=str(config.data.root) if config.data.root else f"bundled:{config.data.name}"))
    method = build_method(config)
    evaluator = Evaluator(config.eval, splits, cache_dir=cache_dir, device=device)
    # Method tags come from the Trainer, once the method has built its train sets.
    reporter.set_tags({"method": config.method.kind, "config_hash": config.config_hash(),
                       "group_id": config.group_id(), "device": str(device),
                       names.EXTRACTOR_DIGEST: evaluator.extractor_digest})
    hooks = _TrialHooks(config, splits, method, evaluator, workdir, device)
    trainer = Trainer(config, method, splits, device=device, reporter=reporter, hooks=hooks,
                      workdir=workdir, on_checkpoint=on_checkpoint, resume_from=resume_from)
    if trainer.resumed:
        reporter.set_tags({TAG_RESUMED_KIMG: f"{trainer.resumed_from_nimg / 1000:g}"})
    final = dict(trainer.run())
    final[BUDGET_COMPLETE] = 1.0
    seconds = time.perf_counter() - t0
    final[names.TRIAL_SECONDS] = seconds
    final[names.EVAL_SECONDS] = hooks.eval_seconds
    reporter.report({BUDGET_COMPLETE: 1.0, names.TRIAL_SECONDS: seconds,
                     names.EVAL_SECONDS: hooks.eval_seconds}, step=trainer.nimg)
    for key in ("samples", "gallery", "similarity"):
        if key in hooks.images:
            reporter.artifact(hooks.images[key], subdir="final")
    return TrialResult(metrics=final, seconds=seconds, workdir=workdir, images=hooks.images)
