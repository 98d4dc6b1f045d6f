"""Feature-extractor files: the shipped default ``digits_cnn``, the cache's entries, exports.

One format for all three: a dict written by ``torch.save`` and read with ``weights_only=True``
(tensors, numbers, strings, lists and dicts only; nothing is unpickled)::

    {"format": "ambientsweep-extractor/1", "name": "digits_cnn",
     "data_key": <16 hex: which classifier images and CNN config it was trained for>,
     "header": {"in_channels": 1, "num_classes": 10, "cnn": {CnnConfig fields}},
     "settings": {where it came from: dataset, image counts, DataConfig when exported},
     "digest": <sha256 hex of header + weights>, "state": {parameter name: tensor}}

The **digest** is a sha256 over the header (as canonical JSON) and every tensor (name, dtype,
shape, raw bytes, in name order): it names what the network computes, independent of how
``torch.save`` lays the file out. It is checked against the weights on every read, and it is
what every trial records beside its fidelity metrics (``extractor_digest``), so two FDs can be
compared exactly when their digests are equal.

The default settings (digits, ``reference_size`` 500, ``classifier_size`` 500, ``split_seed``
0, native 8x8, the default ``CnnConfig``) use the weights shipped in
``ambientsweep/metrics/data/`` (:data:`SHIPPED_DIGITS_CNN`, made by
``ambientsweep extractor make-default``), never the cache: a CNN trained on first use differs
between machines (CPU kernels differ; no determinism flag removes that), the shipped one does
not.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from ambientsweep.errors import UserError

__all__ = [
    "FORMAT",
    "SHIPPED_DIGITS_CNN",
    "ExtractorRecord",
    "Shipped",
    "cache_path",
    "header_digest",
    "read_record",
    "read_shipped",
    "write_record",
]

FORMAT = "ambientsweep-extractor/1"
_DATA_DIR = Path(__file__).resolve().parent / "data"


@dataclass(frozen=True)
class Shipped:
    """A feature extractor that ships with the package: its file, data key and digest."""

    path: Path
    data_key: str  # the cache key of the default settings' classifier images + CnnConfig
    digest: str  # sha256 of header + weights, checked at every load


# Made by `ambientsweep extractor make-default` (see README, "Comparable across machines").
SHIPPED_DIGITS_CNN = Shipped(
    path=_DATA_DIR / "digits_cnn_default.pt",
    data_key="b085b8e3c76c5db9",
    digest="d042801345ad7ea923a4969e60ee751dd1089a1767185778228193ab23bf4bfc",
)


@dataclass(frozen=True)
class ExtractorRecord:
    """One feature extractor's weights and identity (the content of an extractor file)."""

    name: str
    data_key: str
    header: dict[str, Any]  # in_channels, num_classes, cnn (CnnConfig as a dict)
    state: dict[str, Tensor]
    settings: dict[str, Any] = field(default_factory=dict)
    digest: str = ""  # filled by `sealed()`

    def sealed(self) -> ExtractorRecord:
        """This record with its digest computed from header and weights."""
        return replace(self, digest=header_digest(self.name, self.header, self.state))


def header_digest(name: str, header: dict[str, Any], state: dict[str, Tensor]) -> str:
    """sha256 of the extractor's name, header (canonical JSON) and weights (name order)."""
    h = hashlib.sha256()
    h.update(json.dumps({"name": name, **header}, sort_keys=True).encode())
    for key in sorted(state):
        t = state[key].detach().cpu().contiguous()
        h.update(json.dumps([key, str(t.dtype), list(t.shape)]).encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return h.hexdigest()


def cache_path(cache_dir: Path, name: str, data_key: str) -> Path:
    """Where the cache keeps the extractor trained for ``data_key``."""
    return Path(cache_dir) / "features" / f"{name}-{data_key}.pt"


def write_record(record: ExtractorRecord, path: Path) -> Path:
    """Write ``record`` (sealed) to ``path`` atomically: concurrent trials may race on it."""
    record = record.sealed() if not record.digest else record
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT, "name": record.name, "data_key": record.data_key,
        "header": record.header, "settings": record.settings, "digest": record.digest,
        "state": {k: v.detach().cpu().contiguous() for k, v in record.state.items()},
    }
    tmp = path.with_name(f"{path.name}.tmp{os.getpid()}")
    torch.save(payload, tmp)
    os.replace(tmp, path)
    return path


def read_record(path: Path, *, legacy_header: dict[str, Any] | None = None,
                legacy_key: str = "") -> ExtractorRecord:
    """Read an extractor file and verify its digest against its weights.

    Args:
        path: an extractor file (or a bare state dict the cache held before digests, read only
            when ``legacy_header`` describes it).
        legacy_header: the header a bare state dict was trained with.
        legacy_key: its data key.

    Raises:
        UserError: not an extractor file, or its weights do not match its digest.
    """
    path = Path(path)
    try:
        raw = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise UserError(f"{path}: no such extractor file") from None
    except Exception as e:  # torch raises many kinds on a file that is not one of its own
        raise UserError(f"{path}: not a feature-extractor file ({type(e).__name__}: {e})"
                        ) from None
    if isinstance(raw, dict) and raw.get("format") == FORMAT:
        try:
            record = ExtractorRecord(
                name=str(raw["name"]), data_key=str(raw["data_key"]), header=dict(raw["header"]),
                state=dict(raw["state"]), settings=dict(raw.get("settings") or {}),
                digest=str(raw["digest"]),
            )
        except (KeyError, TypeError, ValueError) as e:
            raise UserError(f"{path}: extractor file lacks {e}") from None
        actual = header_digest(record.name, record.header, record.state)
        if actual != record.digest:
            raise UserError(f"{path}: extractor weights do not match their digest (recorded "
                            f"{record.digest}, weights give {actual}); the file is damaged or "
                            "was edited")
        return record
    if (legacy_header is not None and isinstance(raw, dict) and raw
            and all(isinstance(v, Tensor) for v in raw.values())):
        return ExtractorRecord("digits_cnn", legacy_key, legacy_header, dict(raw)).sealed()
    raise UserError(f"{path}: not a feature-extractor file (expected format {FORMAT!r})")


def read_shipped(shipped: Shipped = SHIPPED_DIGITS_CNN) -> ExtractorRecord:
    """The shipped extractor, checked against the digest recorded in this module.

    Raises:
        UserError: the file is missing from the installation or its digest differs.
    """
    if not shipped.path.is_file():
        raise UserError(f"the shipped feature extractor {shipped.path} is missing from this "
                        "installation (reinstall ambientsweep)")
    record = read_record(shipped.path)
    if record.digest != shipped.digest or record.data_key != shipped.data_key:
        raise UserError(f"{shipped.path}: digest {record.digest} (data key {record.data_key}) "
                        f"is not the one this version records, {shipped.digest} (data key "
                        f"{shipped.data_key}); the installation is damaged or the file was "
                        "replaced without updating extractor_files.SHIPPED_DIGITS_CNN")
    return record
