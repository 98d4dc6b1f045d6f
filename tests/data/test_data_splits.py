"""Splits: reference fixed by split_seed, nested subsets, offline loaders, clear errors."""

from __future__ import annotations

import pickle
import struct
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from ambientsweep.config import DataConfig
from ambientsweep.data import load_splits
from ambientsweep.errors import DatasetNotFoundError, UserError


def test_digits_shapes_and_range() -> None:
    s = load_splits(DataConfig(train_size=50), seed=0, replicate=0)
    assert s.train.shape == (50, 1, 8, 8) and s.train.dtype == torch.float32
    assert s.reference.shape == (500, 1, 8, 8)
    assert s.classifier.shape == (500, 1, 8, 8)
    assert s.reference_labels is not None and s.reference_labels.shape == (500,)
    assert s.classifier_labels is not None and s.classifier_labels.shape == (500,)
    assert float(s.train.min()) == -1.0 and float(s.train.max()) == 1.0
    assert s.train_index.dtype == torch.int64 and s.name == "digits"


def test_digits_ids_are_positions_in_the_full_dataset() -> None:
    from sklearn.datasets import load_digits

    images = torch.as_tensor(load_digits().images, dtype=torch.float32) / 16 * 2 - 1
    s = load_splits(DataConfig(train_size=20), seed=3, replicate=1)
    assert torch.equal(s.train[:, 0], images[s.train_index])


def test_reference_disjoint_and_fixed_by_split_seed_only() -> None:
    a = load_splits(DataConfig(train_size=100), seed=0, replicate=0)
    b = load_splits(DataConfig(train_size=300), seed=7, replicate=2)
    assert torch.equal(a.reference, b.reference)
    c = load_splits(DataConfig(train_size=100, split_seed=1), seed=0, replicate=0)
    assert not torch.equal(a.reference, c.reference)
    # the classifier's images: fixed, and disjoint from the reference and every training image
    whole = load_splits(DataConfig(), seed=5, replicate=1)
    assert torch.equal(a.classifier, whole.classifier)
    from sklearn.datasets import load_digits

    images = torch.as_tensor(load_digits().images, dtype=torch.float32)[:, None] / 16 * 2 - 1
    rows = {i: tuple(x.flatten().tolist()) for i, x in enumerate(images)}
    cls_images = {tuple(c.flatten().tolist()) for c in a.classifier}  # built once, not per row
    ref_images = {tuple(r.flatten().tolist()) for r in a.reference}
    cls_rows = {i for i, x in rows.items() if x in cls_images}
    ref_rows = {i for i, x in rows.items() if x in ref_images}
    assert not cls_rows & set(whole.train_index.tolist())  # never a training image
    assert len(a.classifier) + len(a.reference) + len(whole.train) == 1797
    assert len(cls_rows | ref_rows | set(whole.train_index.tolist())) == 1797


def test_classifier_on_the_pool_when_not_reserved() -> None:
    s = load_splits(DataConfig(train_size=100, classifier_size=None), seed=0, replicate=0)
    assert len(s.classifier) + len(s.reference) == 1797
    pool = {tuple(x.flatten().tolist()) for x in s.classifier}
    assert all(tuple(x.flatten().tolist()) in pool for x in s.train)


def test_subsets_nested_and_keyed_by_seed_and_replicate() -> None:
    small = load_splits(DataConfig(train_size=50), seed=0, replicate=0)
    large = load_splits(DataConfig(train_size=400), seed=0, replicate=0)
    assert torch.equal(large.train_index[:50], small.train_index)
    other = load_splits(DataConfig(train_size=50), seed=0, replicate=1)
    assert not torch.equal(other.train_index, small.train_index)
    whole = load_splits(DataConfig(), seed=0, replicate=0)
    assert len(whole.train) == 797
    frac = load_splits(DataConfig(train_fraction=0.5), seed=0, replicate=0)
    assert len(frac.train) == round(0.5 * 797)


def test_digits_resize() -> None:
    s = load_splits(DataConfig(train_size=10, resolution=16), seed=0, replicate=0)
    assert s.train.shape == (10, 1, 16, 16) and s.reference.shape == (500, 1, 16, 16)
    assert s.train.min() >= -1 and s.train.max() <= 1


def test_too_many_training_images_is_a_user_error() -> None:
    with pytest.raises(UserError, match=r"data\.train_size"):
        load_splits(DataConfig(train_size=798), seed=0, replicate=0)


# --- torchvision layouts written by hand (never downloaded) --------------------------------


def _write_idx(path: Path, array: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    header = struct.pack(">BBBB", 0, 0, 8, array.ndim) + struct.pack(
        f">{array.ndim}I", *array.shape
    )
    path.write_bytes(header + array.astype(np.uint8).tobytes())


def _fake_mnist(root: Path, folder: str, n_train: int = 40, n_test: int = 30) -> None:
    rng = np.random.default_rng(0)
    raw = root / folder / "raw"
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        _write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28)))
        _write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, (n,)))


@pytest.mark.parametrize(
    ("name", "folder"), [("mnist", "MNIST"), ("fashion_mnist", "FashionMNIST")]
)
def test_mnist_layout(tmp_path: Path, name: str, folder: str) -> None:
    _fake_mnist(tmp_path, folder)
    cfg = DataConfig(name=name, root=tmp_path, reference_size=10, train_size=8,
                     classifier_size=None)
    s = load_splits(cfg, seed=0, replicate=0)
    assert s.train.shape == (8, 1, 28, 28) and s.reference.shape == (10, 1, 28, 28)
    assert len(s.classifier) == 40  # the train split is the pool
    assert bool((s.train_index < 40).all())  # ids: train split first, then the test split
    raw = np.frombuffer(
        (tmp_path / folder / "raw/train-images-idx3-ubyte").read_bytes()[16:], dtype=np.uint8
    ).reshape(40, 28, 28)
    expected = torch.from_numpy(raw[s.train_index.numpy()].astype(np.float32)) / 127.5 - 1
    assert torch.allclose(s.train[:, 0], expected)
    resized = load_splits(cfg.model_copy(update={"resolution": 16}), seed=0, replicate=0)
    assert resized.train.shape == (8, 1, 16, 16)


def test_cifar10_layout(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    names = [f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]
    for name in names:
        entry = {
            "data": rng.integers(0, 256, (12, 3072), dtype=np.uint8),
            "labels": rng.integers(0, 10, 12).tolist(),
        }
        with open(folder / name, "wb") as fh:
            pickle.dump(entry, fh)
    s = load_splits(DataConfig(name="cifar10", root=tmp_path, reference_size=10,
                                 classifier_size=None), 0, 0)
    assert s.train.shape == (60, 3, 32, 32) and s.reference.shape == (10, 3, 32, 32)
    assert s.reference_labels is not None and s.classifier_labels is not None


@pytest.mark.parametrize("name", ["mnist", "fashion_mnist", "cifar10"])
def test_missing_files_name_folder_dataset_and_option(tmp_path: Path, name: str) -> None:
    with pytest.raises(DatasetNotFoundError) as err:
        load_splits(DataConfig(name=name, root=tmp_path), seed=0, replicate=0)
    msg = str(err.value)
    assert str(tmp_path) in msg and name in msg and "data.download: true" in msg


def test_missing_root_is_a_dataset_error() -> None:
    with pytest.raises(DatasetNotFoundError, match=r"data\.root"):
        load_splits(DataConfig(name="mnist"), seed=0, replicate=0)


def test_imagefolder_gray_and_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    gray = tmp_path / "gray"
    for cls in ("a", "b"):
        (gray / cls).mkdir(parents=True)
        for i in range(8):
            Image.fromarray(rng.integers(0, 256, (12, 10), dtype=np.uint8)).save(
                gray / cls / f"{i}.png"
            )
    s = load_splits(
        DataConfig(name="imagefolder", root=gray, resolution=8, reference_size=10,
                   classifier_size=None),
        seed=0,
        replicate=0,
    )
    assert s.train.shape == (6, 1, 8, 8) and s.reference.shape == (10, 1, 8, 8)
    assert s.classifier_labels is not None and set(s.classifier_labels.tolist()) <= {0, 1}

    rgb = tmp_path / "rgb"
    rgb.mkdir()
    for i in range(12):
        Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8)).save(rgb / f"{i}.jpg")
    s = load_splits(DataConfig(name="imagefolder", root=rgb, reference_size=10,
                                 classifier_size=None), 0, 0)
    assert s.train.shape == (2, 3, 6, 6) and s.classifier_labels is None


def test_imagefolder_sizes_differ_needs_resolution(tmp_path: Path) -> None:
    Image.new("L", (8, 8)).save(tmp_path / "a.png")
    Image.new("L", (9, 8)).save(tmp_path / "b.png")
    with pytest.raises(UserError, match=r"data\.resolution"):
        load_splits(DataConfig(name="imagefolder", root=tmp_path, reference_size=10), 0, 0)


def test_imagefolder_missing(tmp_path: Path) -> None:
    with pytest.raises(DatasetNotFoundError, match=r"no .* images"):
        load_splits(DataConfig(name="imagefolder", root=tmp_path), 0, 0)
