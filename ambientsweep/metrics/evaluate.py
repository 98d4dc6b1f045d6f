"""One evaluation of generated samples: fidelity, memorization, pictures.

:class:`Evaluator` is built once per trial (it trains or loads the feature extractor and
computes the reference split's features once) and called at every evaluation point.

Metrics (keys from :mod:`ambientsweep.metrics.names`):

- ``fd_<features>`` / ``kid_<features>`` (``fid_inception`` / ``kid_inception``) of the samples
  against the reference split, in ``EvalConfig.features``; also ``fd_pixels`` / ``kid_pixels``
  as a sanity check when the features are not pixels and images have at most 1,024 values.
- For every memorization target set (suffix -> clean originals): ``mem_ratio``, ``mem_unique``,
  ``mem_d1d2_median``, ``mem_sim_p95``, ``mem_sim_frac`` in pixel space and in the fidelity
  feature space (and DINOv2 when ``EvalConfig.dinov2``). Pixel distances are in the [-1, 1]
  units the model sees; pixel-space cosine similarity uses images mapped to [0, 1]
  (background 0, as the Ambient papers feed [0, 1] images to DINOv2).
- ``classifier_accuracy`` and ``conf90`` when the features come from the ``digits_cnn``.

``Evaluator.extractor_digest`` names the fidelity extractor (its weights' sha256, see
:mod:`ambientsweep.metrics.extractor_files`); the trial records it as the
``extractor_digest`` tag beside these metrics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ambientsweep.config import EvalConfig
from ambientsweep.data.datasets import Splits
from ambientsweep.metrics import names
from ambientsweep.metrics.features import (
    CnnFeatures,
    FeatureExtractor,
    PixelFeatures,
    build_extractor,
)
from ambientsweep.metrics.fidelity import (
    GaussianStats,
    frechet_distance,
    gaussian_stats,
    kernel_distance,
)
from ambientsweep.metrics.memorization import MemorizationReport, memorization
from ambientsweep.metrics.pictures import save_gallery, save_grid, save_similarity_histogram
from ambientsweep.metrics.reported import pixel_sanity
from ambientsweep.utils.seeding import derive_seed

__all__ = ["Evaluator"]


class _Space:
    """A feature space with the reference split's features and statistics precomputed."""

    def __init__(self, extractor: FeatureExtractor, reference: Tensor) -> None:
        self.name = extractor.name
        self.extractor = extractor
        self.reference = self.vectors(reference).numpy()
        self.stats: GaussianStats = gaussian_stats(self.reference)

    def vectors(self, images: Tensor) -> Tensor:
        return self.extractor(images)

    @property
    def sim_shift(self) -> float:
        return 1.0 if self.name == "pixels" else 0.0  # pixels: cosine of [0, 1]-style images


class Evaluator:
    """Scores samples against the reference split (fidelity) and training sets (memorization)."""

    def __init__(
        self, cfg: EvalConfig, splits: Splits, *, cache_dir: Path, device: torch.device
    ) -> None:
        self.cfg = cfg
        self.device = device
        self.image_shape = tuple(splits.reference.shape[1:])
        main = build_extractor(cfg.features, splits, cache_dir=cache_dir, device=device)
        self.fidelity = _Space(main, splits.reference)
        self.spaces = [self.fidelity]
        if cfg.features != "pixels":
            self.spaces.insert(0, _Space(PixelFeatures(), splits.reference))
        if cfg.dinov2:
            dino = build_extractor("dinov2", splits, cache_dir=cache_dir, device=device)
            self.spaces.append(_Space(dino, splits.reference))
        self.pixel_sanity = pixel_sanity(cfg, int(np.prod(self.image_shape)))
        self.classifier_accuracy = main.accuracy if isinstance(main, CnnFeatures) else None
        # Which exact extractor made the fidelity metrics (recorded with them by the trial).
        self.extractor_digest: str = main.digest

    def __call__(
        self,
        samples: Tensor,
        targets: dict[str, Tensor],
        *,
        out_dir: Path | None,
        step: int,
    ) -> tuple[dict[str, float], list[Path]]:
        """Metrics of ``samples`` ``[n, C, H, W]`` in [-1, 1], and the PNG paths written.

        Args:
            samples: generated images.
            targets: suffix (``""``, ``"_clean"``, ``"_noisy"``) -> clean originals to test
                memorization against.
            out_dir: where pictures go (none written when ``None`` or ``save_images`` is off).
            step: names the pictures (e.g. images seen).
        """
        if tuple(samples.shape[1:]) != self.image_shape:
            raise ValueError(
                f"samples have shape {tuple(samples.shape[1:])}, the data {self.image_shape}"
            )
        samples = samples.detach().float().cpu()
        metrics: dict[str, float] = {}
        sample_vectors = {space.name: space.vectors(samples) for space in self.spaces}
        fidelity_spaces = [self.fidelity]
        if self.pixel_sanity:
            fidelity_spaces.insert(0, self.spaces[0])
        for space in fidelity_spaces:
            feats = sample_vectors[space.name].numpy()
            metrics[names.fd_key(space.name)] = frechet_distance(
                gaussian_stats(feats), space.stats
            )
            rng = np.random.default_rng(derive_seed("kid", space.name))
            metrics[names.kid_key(space.name)] = kernel_distance(feats, space.reference, rng)

        extractor = self.fidelity.extractor
        if isinstance(extractor, CnnFeatures):
            probs = extractor.probabilities(samples)
            metrics[names.CONF90] = float((probs.max(dim=1).values > 0.9).float().mean())
        if self.classifier_accuracy is not None:
            metrics[names.CLASSIFIER_ACCURACY] = self.classifier_accuracy

        reports: dict[tuple[str, str], MemorizationReport] = {}
        for suffix, train in targets.items():
            for space in self.spaces:
                report = memorization(
                    sample_vectors[space.name],
                    space.vectors(train.detach().float().cpu()),
                    ratio_threshold=self.cfg.ratio_threshold,
                    sim_threshold=self.cfg.sim_threshold,
                    sim_shift=space.sim_shift,
                    device=self.device,
                )
                reports[space.name, suffix] = report
                metrics.update(_memorization_metrics(report, space.name, suffix))

        paths: list[Path] = []
        if out_dir is not None and self.cfg.save_images:
            paths = self._pictures(samples, targets, reports, Path(out_dir), step)
        return metrics, paths

    def _pictures(
        self,
        samples: Tensor,
        targets: dict[str, Tensor],
        reports: dict[tuple[str, str], MemorizationReport],
        out_dir: Path,
        step: int,
    ) -> list[Path]:
        paths = [save_grid(samples, out_dir / f"samples_{step:08d}.png")]
        if not targets:
            return paths
        suffix = "" if "" in targets else next(iter(targets))
        pixel = reports["pixels", suffix]
        if self.cfg.gallery_size > 0:
            gallery = out_dir / f"gallery{suffix}_{step:08d}.png"
            paths.append(
                save_gallery(
                    samples,
                    targets[suffix],
                    pixel,
                    gallery,
                    count=self.cfg.gallery_size,
                    threshold=self.cfg.ratio_threshold,
                )
            )
        sims = {
            f"{space.name}{suffix}": reports[space.name, suffix].top1_sim for space in self.spaces
        }
        paths.append(
            save_similarity_histogram(
                sims,
                out_dir / f"similarity{suffix}_{step:08d}.png",
                threshold=self.cfg.sim_threshold,
            )
        )
        return paths


def _memorization_metrics(report: MemorizationReport, space: str, suffix: str) -> dict[str, float]:
    return {
        names.mem_key("ratio", space, suffix): report.fraction,
        names.mem_key("unique", space, suffix): float(report.unique),
        names.mem_key("d1d2_median", space, suffix): report.d1d2_median,
        names.mem_key("sim_p95", space, suffix): report.sim_p95,
        names.mem_key("sim_frac", space, suffix): report.sim_frac,
    }
