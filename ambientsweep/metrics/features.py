"""Feature extractors for fidelity and memorization, chosen by name (``EvalConfig.features``).

- ``pixels``: the flattened image in [-1, 1].
- ``digits_cnn``: the 64-dimensional penultimate layer of a small CNN classifier trained on the
  classifier images of the splits (disjoint from the reference split). For the default
  settings the weights ship with the package (:data:`~ambientsweep.metrics.extractor_files.
  SHIPPED_DIGITS_CNN`, digest checked at load), so ``fd_digits_cnn`` means the same on every
  machine. For other settings (dataset, resolution, split seed, reference or classifier size,
  CNN config) it is trained once on the CPU in seconds, or imported
  (``ambientsweep extractor import``), and cached under ``<cache_dir>/features/`` by a hash of
  the classifier images and the CNN config. Every extractor file carries a digest of its
  weights (:mod:`ambientsweep.metrics.extractor_files`), which trials record as
  ``extractor_digest``. Its feature layer uses SiLU, not ReLU: ReLU units that never fire make
  the feature covariance singular (seen in calibration), which makes the Fréchet distance
  ill-posed.
- ``inception``: clean-fid's TorchScript Inception-v3 (2048-d pool features, "clean" resizing
  to 299x299), only if its weights are already in ``<cache_dir>/weights/``.
- ``dinov2``: not bundled; always raises :class:`~ambientsweep.errors.WeightsMissingError`.

Nothing falls back from one feature space to another: a missing prerequisite is an error.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ambientsweep.data.datasets import Splits
from ambientsweep.errors import UserError, WeightsMissingError
from ambientsweep.metrics import extractor_files as files
from ambientsweep.metrics import names
from ambientsweep.metrics.weights import require_weights
from ambientsweep.utils.seeding import generator

__all__ = [
    "CnnConfig",
    "CnnFeatures",
    "DigitsCnn",
    "FeatureExtractor",
    "InceptionFeatures",
    "PixelFeatures",
    "build_extractor",
    "cnn_record",
    "load_or_train_cnn",
    "train_digits_cnn",
]


class FeatureExtractor(Protocol):
    """Maps images ``[n, C, H, W]`` in [-1, 1] to features ``[n, d]`` (float32, CPU).

    ``digest`` names the exact extractor (sha256 of its weights, or the name of a space without
    weights): metrics made with equal digests are comparable.
    """

    name: str
    digest: str

    def __call__(self, images: Tensor) -> Tensor: ...


class PixelFeatures:
    """The flattened pixels."""

    name = "pixels"
    digest = "pixels"  # no weights: the same on every machine

    def __call__(self, images: Tensor) -> Tensor:
        return images.reshape(len(images), -1).float().cpu()


# ----------------------------------------------------------------------------------------------
# digits_cnn


@dataclass(frozen=True)
class CnnConfig:
    """Architecture and training of the feature CNN; part of its cache key."""

    width: int = 24  # channels of the first stage (the second has 2x)
    feat_dim: int = 64  # feature (penultimate) layer width
    steps: int = 2000  # Adam steps (0.95-0.97 held-out accuracy on 500 digits, ~15 s CPU)
    batch_size: int = 64
    lr: float = 2e-3
    weight_decay: float = 5e-4
    shift: int = 1  # random translation augmentation, pixels (at 8x8)
    version: int = 2  # bump when the code below changes what is learned


class DigitsCnn(nn.Module):
    """conv-conv-pool-conv-conv-pool(2x2)-linear(SiLU features)-linear(logits)."""

    def __init__(self, in_channels: int, num_classes: int, cfg: CnnConfig) -> None:
        super().__init__()
        w = cfg.width
        self.body = nn.Sequential(
            nn.Conv2d(in_channels, w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(w, w, 3, padding=1),
            nn.SiLU(),
            nn.AvgPool2d(2, ceil_mode=True),
            nn.Conv2d(w, 2 * w, 3, padding=1),
            nn.SiLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1),
            nn.SiLU(),
            nn.AdaptiveAvgPool2d(2),
            nn.Flatten(),
            nn.Linear(8 * w, cfg.feat_dim),
            nn.SiLU(),  # smooth: no dead units, full-rank feature covariance
        )
        self.head = nn.Linear(cfg.feat_dim, num_classes)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.body(x))


def _init(net: nn.Module, gen: torch.Generator) -> None:
    """PyTorch's default init, drawn from ``gen`` instead of the global generator."""
    for module in net.modules():
        if isinstance(module, nn.Conv2d | nn.Linear):
            nn.init.kaiming_uniform_(module.weight, a=5**0.5, generator=gen)
            fan_in = module.weight[0].numel()
            bound = 1.0 / fan_in**0.5
            assert module.bias is not None
            nn.init.uniform_(module.bias, -bound, bound, generator=gen)


def _shift(x: Tensor, max_shift: int, gen: torch.Generator) -> Tensor:
    """Translate each image by up to ``max_shift`` pixels (background-filled), per sample."""
    if max_shift == 0:
        return x
    pad = F.pad(x, (max_shift,) * 4, value=-1.0)
    h, w = x.shape[-2:]
    offs = torch.randint(0, 2 * max_shift + 1, (len(x), 2), generator=gen)
    return torch.stack(
        [p[:, i : i + h, j : j + w] for p, (i, j) in zip(pad, offs.tolist(), strict=True)]
    )


@contextlib.contextmanager
def _cpu_threads(n: int) -> Iterator[None]:
    """Run with ``n`` torch CPU threads, restoring the previous count afterwards."""
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def train_digits_cnn(
    images: Tensor,
    labels: Tensor,
    num_classes: int,
    cfg: CnnConfig,
    gen: torch.Generator,
    device: torch.device,
) -> DigitsCnn:
    """Train the feature CNN with Adam on (images, labels); deterministic given ``gen``."""
    net = DigitsCnn(images.shape[1], num_classes, cfg)
    _init(net, gen)
    net.to(device).train()
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps)
    shift = max(0, round(cfg.shift * images.shape[-1] / 8))
    for _ in range(cfg.steps):
        rows = torch.randint(0, len(images), (cfg.batch_size,), generator=gen)
        x = _shift(images[rows], shift, gen).to(device)
        loss = F.cross_entropy(net(x), labels[rows].to(device))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    return net.eval()


class CnnFeatures:
    """Penultimate-layer features of a trained :class:`DigitsCnn`."""

    name = "digits_cnn"

    def __init__(self, net: DigitsCnn, device: torch.device, accuracy: float | None,
                 digest: str = "", source: str = "") -> None:
        self.net = net.eval()
        self.device = device
        self.accuracy = accuracy  # on the reference split (classifier_accuracy)
        self.digest = digest  # sha256 of its header and weights (extractor_files)
        self.source = source  # "shipped", "cache" or "trained"

    @torch.no_grad()
    def _batched(self, images: Tensor, fn_name: str, batch: int = 1024) -> Tensor:
        fn = getattr(self.net, fn_name)
        outs = [
            fn(images[i : i + batch].to(self.device).float()).cpu()
            for i in range(0, len(images), batch)
        ]
        return torch.cat(outs).float()

    def __call__(self, images: Tensor) -> Tensor:
        return self._batched(images, "features")

    def probabilities(self, images: Tensor) -> Tensor:
        """Class probabilities ``[n, classes]`` (for conf90)."""
        return self._batched(images, "forward").softmax(dim=1)


def _cache_key(splits: Splits, cfg: CnnConfig, num_classes: int) -> str:
    assert splits.classifier_labels is not None
    h = hashlib.sha256()
    meta = {
        "dataset": splits.name,
        "shape": list(splits.classifier.shape),
        "cnn": asdict(cfg),
        "classes": num_classes,
    }
    h.update(json.dumps(meta, sort_keys=True).encode())
    h.update(splits.classifier.detach().cpu().float().contiguous().numpy().tobytes())
    h.update(splits.classifier_labels.cpu().to(torch.int64).numpy().tobytes())
    return h.hexdigest()[:16]


def _num_classes(splits: Splits) -> int:
    assert splits.classifier_labels is not None
    num_classes = int(splits.classifier_labels.max()) + 1
    if splits.reference_labels is not None:
        num_classes = max(num_classes, int(splits.reference_labels.max()) + 1)
    return num_classes


def cnn_header(in_channels: int, num_classes: int, cfg: CnnConfig) -> dict[str, object]:
    """What a :class:`DigitsCnn`'s weights need besides themselves (part of the digest)."""
    return {"in_channels": in_channels, "num_classes": num_classes, "cnn": asdict(cfg)}


def cnn_record(
    splits: Splits, cache_dir: Path, device: torch.device, cfg: CnnConfig | None = None
) -> tuple[files.ExtractorRecord, str]:
    """The feature CNN's weights for these splits and where they came from.

    The shipped weights when the classifier images and ``cfg`` are the default settings' (the
    cache is not looked at); else the cache's entry; else trained now (one CPU thread, seeded
    by the data key) and cached.

    Returns:
        (the verified record, ``"shipped"`` | ``"cache"`` | ``"trained"``).

    Raises:
        UserError: the dataset has no class labels (use ``pixels`` or ``inception``), or an
            extractor file is damaged.
    """
    cfg = cfg or CnnConfig()
    if splits.classifier_labels is None:
        raise UserError(
            f"eval.features: digits_cnn needs class labels, and dataset {splits.name!r} has "
            "none; use eval.features: pixels or inception"
        )
    num_classes = _num_classes(splits)
    key = _cache_key(splits, cfg, num_classes)
    header = cnn_header(splits.classifier.shape[1], num_classes, cfg)
    if key == files.SHIPPED_DIGITS_CNN.data_key:
        return files.read_shipped(), "shipped"
    path = files.cache_path(cache_dir, "digits_cnn", key)
    if path.is_file():
        record = files.read_record(path, legacy_header=header, legacy_key=key)
        if record.header != header:
            raise UserError(f"{path}: made for {record.header}, these settings need {header}; "
                            "delete it to retrain")
        return record, "cache"
    record = train_record(splits, cfg, device)
    files.write_record(record, path)
    return record, "trained"


def train_record(splits: Splits, cfg: CnnConfig, device: torch.device) -> files.ExtractorRecord:
    """Train the feature CNN on the splits' classifier images: a sealed extractor record.

    Deterministic on one machine (the generator is keyed by the data key, one CPU thread);
    another machine's CPU kernels give other weights, hence the shipped default.
    """
    assert splits.classifier_labels is not None
    num_classes = _num_classes(splits)
    key = _cache_key(splits, cfg, num_classes)
    gen = generator("digits_cnn", key)
    # NOTE: this net is too small to gain from threads; with other trials on the same cores,
    # 2 spinning OpenMP threads measured 8x the CPU time of 1 thread (66 s vs 8 s).
    threads = 1 if device.type == "cpu" else torch.get_num_threads()
    with _cpu_threads(threads):
        net = train_digits_cnn(splits.classifier, splits.classifier_labels, num_classes, cfg,
                               gen, device)
    settings = {"dataset": splits.name, "classifier_images": len(splits.classifier),
                "image_shape": list(splits.classifier.shape[1:]), "torch": str(torch.__version__)}
    return files.ExtractorRecord(
        name="digits_cnn", data_key=key,
        header=cnn_header(splits.classifier.shape[1], num_classes, cfg),
        state={k: v.detach().cpu() for k, v in net.state_dict().items()}, settings=settings,
    ).sealed()


def load_or_train_cnn(
    splits: Splits, cache_dir: Path, device: torch.device, cfg: CnnConfig | None = None
) -> CnnFeatures:
    """The feature CNN for these splits: shipped, from the cache, or trained now and cached
    (:func:`cnn_record`).

    Raises:
        UserError: the dataset has no class labels (use ``pixels`` or ``inception``).
    """
    cfg = cfg or CnnConfig()
    record, source = cnn_record(splits, cache_dir, device, cfg)
    net = DigitsCnn(int(record.header["in_channels"]), int(record.header["num_classes"]), cfg)
    net.load_state_dict(record.state)
    net.to(device)
    feats = CnnFeatures(net, device, None, digest=record.digest, source=source)
    if splits.reference_labels is not None:
        pred = feats.probabilities(splits.reference).argmax(dim=1)
        feats.accuracy = float((pred == splits.reference_labels).float().mean())
    return feats


# ----------------------------------------------------------------------------------------------
# Inception (clean-fid) and DINOv2


class InceptionFeatures:
    """clean-fid's Inception-v3 pool features on "clean"-resized 299x299 uint8 images."""

    name = "inception"

    def __init__(self, cache_dir: Path, device: torch.device) -> None:
        path = require_weights("inception", cache_dir)
        from cleanfid.inception_torchscript import InceptionV3W
        from cleanfid.resize import build_resizer

        self.model = InceptionV3W(str(path.parent), download=False).to(device).eval()
        self.digest = _file_sha256(path)  # clean-fid's fixed weights, as read from the cache
        self.resize = build_resizer("clean")
        self.device = device

    @torch.no_grad()
    def __call__(self, images: Tensor, batch: int = 64) -> Tensor:
        # clean-fid: quantize to uint8 as when saved to PNG, then resize in float (PIL bicubic)
        u8 = ((images.float().cpu().clamp(-1, 1) + 1) * 127.5).round().to(torch.uint8)
        if u8.shape[1] == 1:
            u8 = u8.expand(-1, 3, -1, -1)
        hwc = u8.permute(0, 2, 3, 1).numpy()
        outs = []
        for i in range(0, len(hwc), batch):
            arr = np.stack([self.resize(x) for x in hwc[i : i + batch]])
            x = torch.from_numpy(arr).permute(0, 3, 1, 2).to(self.device, torch.float32)
            outs.append(self.model(x).cpu())
        return torch.cat(outs).float()


def _file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def dinov2_features(cache_dir: Path, device: torch.device) -> FeatureExtractor:
    """DINOv2 ViT-g/14 features (Ambient papers' memorization space): not bundled yet."""
    raise WeightsMissingError(
        "DINOv2 features are not available in this version of ambientsweep (the model code "
        "and weights are not bundled); set eval.dinov2: false"
    )


def build_extractor(
    name: str, splits: Splits, *, cache_dir: Path, device: torch.device
) -> FeatureExtractor:
    """The extractor called ``name``; errors (never a fallback) when it cannot be built."""
    builders: dict[str, Callable[[], FeatureExtractor]] = {
        "pixels": PixelFeatures,
        "digits_cnn": lambda: load_or_train_cnn(splits, cache_dir, device),
        "inception": lambda: InceptionFeatures(cache_dir, device),
        "dinov2": lambda: dinov2_features(cache_dir, device),
    }
    if name not in builders:
        raise UserError(f"unknown feature space {name!r}; known: "
                        f"{', '.join(names.MEMORIZATION_SPACES)}")
    return builders[name]()
