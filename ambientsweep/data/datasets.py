"""Datasets and their splits: training subset, held-out fidelity reference, classifier images.

Sources (``DataConfig.name``):

- ``digits``: the 1,797 8x8 handwritten digits that scikit-learn ships (offline), ``x/16*2-1``.
- ``mnist``, ``fashion_mnist``, ``cifar10``: the standard files under ``data.root``
  (torchvision's layout: ``<root>/MNIST/raw/*-ubyte``, ``<root>/FashionMNIST/raw/*-ubyte``,
  ``<root>/cifar-10-batches-py/``). torchvision fetches them only with ``data.download: true``;
  otherwise missing files raise :class:`~ambientsweep.errors.DatasetNotFoundError`.
- ``imagefolder``: every png/jpg/bmp/webp under ``data.root`` (recursively, sorted by path).
  Grayscale when every image is gray, else RGB. Non-square images are centre-cropped to a square
  before resizing. When every image sits in a first-level subfolder and there are at least two
  subfolders, the subfolder names are the class labels (torchvision ``ImageFolder`` convention).

Splits (image ids are positions in the full dataset; for the torchvision datasets the train
split comes first, then the test split):

- Datasets without an official test split (``digits``, ``imagefolder``): the reference split is
  ``reference_size`` images drawn by ``split_seed`` alone, then ``classifier_size`` images
  for the feature classifier; the pool (training subsets) is the rest.
- ``mnist``, ``fashion_mnist``, ``cifar10``: the pool is the official *train* split and the
  reference split is ``reference_size`` images of the official *test* split (drawn by
  ``split_seed``), and the classifier images are the next ``classifier_size`` test images, so
  neither the reference nor any training image is ever seen by the classifier behind
  ``fd_digits_cnn``; ``classifier_size: null`` trains it on the pool instead. The papers
  (EDM ``fid.py``, SFBD, Ambient Diffusion) compute CIFAR-10 FID against statistics of the
  whole *training* set; a preset that wants the closest equivalent sets
  ``data.reference_size: 10000`` (the whole test split, whose Inception statistics differ
  little from the train split's) with ``eval.features: inception`` and
  ``eval.num_samples: 50000``. Reference statistics on the train split itself would need a new
  ``DataConfig`` option (e.g. ``reference_from: train``), not provided here.
- Training subset: the first N images of a permutation of the pool keyed by ``(seed, replicate)``
  only, so subsets are nested as N grows and trials that differ in anything else see the same
  images. N is ``train_size``, or ``train_fraction`` of the pool, or the whole pool.
- Classifier images: the pool (disjoint from the reference split), with labels.

Nothing is cached: the sources are small or already local files.
"""

from __future__ import annotations

import pickle
import urllib.error
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor

from ambientsweep.config import DataConfig
from ambientsweep.errors import DatasetNotFoundError, UserError
from ambientsweep.utils.seeding import generator

if TYPE_CHECKING:
    from PIL import Image

__all__ = ["IMAGE_SUFFIXES", "Splits", "load_splits"]

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".webp")
_CIFAR_DIR = "cifar-10-batches-py"
_CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
_CIFAR_TEST = ("test_batch",)
_TV_FOLDER = {"mnist": "MNIST", "fashion_mnist": "FashionMNIST"}
_IDX_FILES = {
    True: ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    False: ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


@dataclass(frozen=True)
class Splits:
    """The images one trial uses. All image tensors are float32 ``[n, C, H, W]`` in [-1, 1]."""

    train: Tensor  # [N,C,H,W] CLEAN ORIGINALS of the training subset
    train_index: Tensor  # [N] int64 stable image ids (positions in the full dataset)
    reference: Tensor  # [R,C,H,W] held-out fidelity reference split (never trained on)
    reference_labels: Tensor | None  # [R] int64 class labels where the dataset has them
    classifier: Tensor  # images disjoint from `reference` (trains the feature CNN)
    classifier_labels: Tensor | None
    name: str  # dataset name, for cache keys


@dataclass(frozen=True)
class _Part:
    images: Tensor  # [n,C,H,W] float32 in [-1,1]
    labels: Tensor | None  # [n] int64


def load_splits(cfg: DataConfig, seed: int, replicate: int) -> Splits:
    """Load ``cfg.name`` and split it as described in the module docstring.

    Raises:
        DatasetNotFoundError: the files are not under ``cfg.root`` (and ``download`` is off).
        UserError: sizes that do not fit the dataset.
    """
    train_part, test_part = _load_parts(cfg)
    offset = len(train_part.images)
    source = train_part if test_part is None else test_part  # where the reference is drawn
    n_source = len(source.images)
    if cfg.reference_size >= n_source and test_part is None:
        raise UserError(
            f"data.reference_size={cfg.reference_size} leaves no training images: dataset "
            f"{cfg.name!r} has {n_source} images"
        )
    if cfg.reference_size > n_source:
        raise UserError(
            f"data.reference_size={cfg.reference_size} exceeds the {n_source} images of the "
            f"{cfg.name!r} test split"
        )

    n_cls = cfg.classifier_size or 0
    if cfg.reference_size + n_cls > n_source - (1 if test_part is None else 0):
        raise UserError(
            f"data.reference_size={cfg.reference_size} + data.classifier_size={n_cls} exceed "
            f"the {n_source} images of {cfg.name!r}"
            + (" (its test split)" if test_part is not None else "")
        )
    ref_perm = torch.randperm(n_source, generator=generator("reference_split", cfg.split_seed))
    ref_rows = ref_perm[: cfg.reference_size].sort().values
    cls_rows = ref_perm[cfg.reference_size : cfg.reference_size + n_cls].sort().values
    reference = _take(source, ref_rows)
    held_out = _take(source, cls_rows)  # the classifier's own images (when classifier_size)

    if test_part is None:
        keep = torch.ones(n_source, dtype=torch.bool)
        keep[ref_rows] = False
        keep[cls_rows] = False
        pool_rows = keep.nonzero().squeeze(1)
        pool = _take(train_part, pool_rows)
        pool_ids = pool_rows
    else:
        pool, pool_ids = train_part, torch.arange(offset)
    classifier = held_out if cfg.classifier_size else pool

    n_train = _train_count(cfg, len(pool_ids))
    train_perm = torch.randperm(
        len(pool_ids), generator=generator("train_subset", seed, replicate)
    )
    train_rows = train_perm[:n_train]
    return Splits(
        train=pool.images[train_rows],
        train_index=pool_ids[train_rows].to(torch.int64),
        reference=reference.images,
        reference_labels=reference.labels,
        classifier=classifier.images,
        classifier_labels=classifier.labels,
        name=cfg.name,
    )


def _train_count(cfg: DataConfig, pool_size: int) -> int:
    if cfg.train_size is not None:
        if cfg.train_size > pool_size:
            raise UserError(
                f"data.train_size={cfg.train_size} exceeds the pool of {pool_size} images of "
                f"{cfg.name!r} left after the reference split (data.reference_size="
                f"{cfg.reference_size})"
            )
        return cfg.train_size
    if cfg.train_fraction is not None:
        return max(2, round(cfg.train_fraction * pool_size))
    return pool_size


def _take(part: _Part, rows: Tensor) -> _Part:
    labels = None if part.labels is None else part.labels[rows]
    return _Part(part.images[rows], labels)


def _load_parts(cfg: DataConfig) -> tuple[_Part, _Part | None]:
    if cfg.name == "digits":
        return _digits(cfg.resolution), None
    if cfg.name == "imagefolder":
        return _imagefolder(_root(cfg), cfg.resolution), None
    root = _root(cfg)
    if cfg.name in _TV_FOLDER:
        train, test = (_idx_part(cfg, root, train=flag) for flag in (True, False))
    else:
        train, test = _cifar10(cfg, root)
    if cfg.resolution is not None:
        train, test = (_Part(_resize(p.images, cfg.resolution), p.labels) for p in (train, test))
    return train, test


def _root(cfg: DataConfig) -> Path:
    if cfg.root is None:
        raise DatasetNotFoundError(
            f"dataset {cfg.name!r} needs data.root: the folder that holds its files "
            "(set data.download: true to let torchvision fetch them into it)"
        )
    return Path(cfg.root).expanduser().resolve()


def _to_unit(x: Tensor) -> Tensor:
    """uint8 [0, 255] -> float32 [-1, 1]."""
    return x.to(torch.float32).div_(127.5).sub_(1.0)


def _resize(x: Tensor, resolution: int | None) -> Tensor:
    """Bilinear resize with antialiasing (a no-op at the native size)."""
    if resolution is None or x.shape[-2:] == (resolution, resolution):
        return x
    out = F.interpolate(x, size=(resolution, resolution), mode="bilinear", antialias=True)
    return out.clamp_(-1.0, 1.0)


def _digits(resolution: int | None) -> _Part:
    from sklearn.datasets import load_digits

    bunch = load_digits()
    images = torch.as_tensor(bunch.images, dtype=torch.float32).unsqueeze(1) / 16.0 * 2.0 - 1.0
    return _Part(_resize(images, resolution), torch.as_tensor(bunch.target, dtype=torch.int64))


def _missing(cfg: DataConfig, root: Path, expected: list[Path]) -> DatasetNotFoundError:
    shown = ", ".join(str(p) for p in expected[:3])
    return DatasetNotFoundError(
        f"dataset {cfg.name!r} not found in {root} (expected {shown}). Put the files there, or "
        "set data.download: true to let torchvision download them (needs internet)."
    )


def _download(cfg: DataConfig, root: Path) -> None:
    import torchvision.datasets as tvd

    cls = {"mnist": tvd.MNIST, "fashion_mnist": tvd.FashionMNIST, "cifar10": tvd.CIFAR10}[cfg.name]
    print(f"downloading {cfg.name} into {root} (data.download: true)")
    try:
        for train in (True, False):
            cls(str(root), train=train, download=True)
    except (urllib.error.URLError, OSError, RuntimeError) as err:
        raise DatasetNotFoundError(
            f"could not download dataset {cfg.name!r} into {root}: {err}. Without internet, "
            "copy the files there and set data.download: false."
        ) from err


def _idx_part(cfg: DataConfig, root: Path, *, train: bool) -> _Part:
    """MNIST / Fashion-MNIST through torchvision (idx ubyte files under <root>/<Name>/raw)."""
    import torchvision.datasets as tvd

    folder = root / _TV_FOLDER[cfg.name] / "raw"
    if cfg.download and train:
        _download(cfg, root)
    cls = tvd.MNIST if cfg.name == "mnist" else tvd.FashionMNIST
    try:
        ds = cls(str(root), train=train, download=False)
    except RuntimeError as err:
        raise _missing(cfg, root, [folder / name for name in _IDX_FILES[train]]) from err
    return _Part(_to_unit(ds.data).unsqueeze(1), ds.targets.to(torch.int64))


def _cifar10(cfg: DataConfig, root: Path) -> tuple[_Part, _Part]:
    """CIFAR-10 from the python pickle batches (torchvision's layout and download).

    NOTE: the batches are read here rather than by ``torchvision.datasets.CIFAR10``, which
    re-checks the md5 of every file on each load; torchvision checks it when it downloads.
    """
    folder = root / _CIFAR_DIR
    if cfg.download:
        _download(cfg, root)
    files = [folder / n for n in (*_CIFAR_TRAIN, *_CIFAR_TEST)]
    if not all(f.is_file() for f in files):
        raise _missing(cfg, root, [f for f in files if not f.is_file()])
    return _cifar_batches(folder, _CIFAR_TRAIN), _cifar_batches(folder, _CIFAR_TEST)


def _cifar_batches(folder: Path, names: tuple[str, ...]) -> _Part:
    data, labels = [], []
    for name in names:
        with open(folder / name, "rb") as fh:
            entry = pickle.load(fh, encoding="latin1")
        data.append(np.asarray(entry["data"], dtype=np.uint8))
        labels.extend(entry["labels"])
    array = np.concatenate(data).reshape(-1, 3, 32, 32)
    return _Part(_to_unit(torch.from_numpy(array)), torch.as_tensor(labels, dtype=torch.int64))


def _imagefolder(root: Path, resolution: int | None) -> _Part:
    from PIL import Image

    if not root.is_dir():
        raise DatasetNotFoundError(f"dataset 'imagefolder' not found: {root} is not a folder")
    paths = sorted(
        p for p in root.rglob("*") if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
    )
    if not paths:
        raise DatasetNotFoundError(
            f"dataset 'imagefolder' not found: no {'/'.join(IMAGE_SUFFIXES)} images under {root}"
        )
    arrays = []
    for path in paths:
        with Image.open(path) as im:
            rgb = im.convert("RGB")
        if resolution is not None:
            rgb = _square(rgb).resize((resolution, resolution), Image.Resampling.BICUBIC)
        arrays.append(np.asarray(rgb, dtype=np.uint8))
    sizes = {a.shape for a in arrays}
    if len(sizes) > 1:
        raise UserError(
            f"images under {root} differ in size ({len(sizes)} sizes, e.g. "
            f"{sorted(sizes)[:2]}); set data.resolution to resize them"
        )
    stack = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2)  # [n,3,H,W] uint8
    gray = bool((stack[:, :1] == stack[:, 1:]).all())
    images = _to_unit(stack[:, :1] if gray else stack).contiguous()
    return _Part(images, _folder_labels(root, paths))


def _square(im: Image.Image) -> Image.Image:
    """Centre crop a PIL image to a square."""
    w, h = im.size
    side = min(w, h)
    left, top = (w - side) // 2, (h - side) // 2
    return im.crop((left, top, left + side, top + side))


def _folder_labels(root: Path, paths: list[Path]) -> Tensor | None:
    parts = [p.relative_to(root).parts for p in paths]
    if any(len(p) < 2 for p in parts):
        return None
    classes = sorted({p[0] for p in parts})
    if len(classes) < 2:
        return None
    lookup = {name: i for i, name in enumerate(classes)}
    return torch.as_tensor([lookup[p[0]] for p in parts], dtype=torch.int64)
