"""`ambientsweep extractor make-default | export | import | show`: pin one feature extractor.

- ``make-default OUT``: trains the default settings' ``digits_cnn`` with the project's own
  training code (:func:`ambientsweep.metrics.features.train_record`) and writes it as an
  extractor file. This is the command that made the shipped
  ``ambientsweep/metrics/data/digits_cnn_default.pt``; its digest and data key are then
  recorded in :data:`ambientsweep.metrics.extractor_files.SHIPPED_DIGITS_CNN`.
- ``export OUT [--from FILE]``: the extractor the data settings of a sweep or base config (or
  the defaults) use — shipped, cached, or trained now into the cache — written to ``OUT``.
- ``import FILE``: verifies the file's digest and puts it in this work dir's cache, where
  every trial with the same classifier images and CNN config uses it instead of training one.
- ``show FILE``: prints what an extractor file holds (after verifying its digest).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from ambientsweep.config import DataConfig, TrialConfig
from ambientsweep.errors import UserError

__all__ = ["describe", "export_extractor", "import_extractor", "make_default"]


def _data_config(source: Path | None) -> DataConfig:
    """The data settings of a sweep file (its base config with its fixed overrides) or of a
    base config file; the defaults when ``source`` is None."""
    if source is None:
        return DataConfig()
    try:
        raw = yaml.safe_load(Path(source).read_text())
    except (OSError, yaml.YAMLError) as e:
        raise UserError(f"{source}: cannot read it as YAML ({e})") from None
    if isinstance(raw, dict) and "base" in raw:
        from ambientsweep.spec import load_sweep

        base = load_sweep(source).base
        return DataConfig.model_validate(base.get("data") or {})
    if not isinstance(raw, dict):
        raise UserError(f"{source}: expected a sweep file or a base config (a YAML mapping)")
    try:
        return TrialConfig.model_validate(raw).data
    except ValueError as e:
        raise UserError(f"{source}: not a valid base config: {e}") from None


def _splits(data: DataConfig) -> Any:
    from ambientsweep.data.datasets import load_splits

    return load_splits(data, seed=0, replicate=0)  # the classifier images ignore the seed


def make_default(out: Path) -> Any:
    """Train the default settings' ``digits_cnn`` and write it to ``out``; the record."""
    import torch

    from ambientsweep.metrics import extractor_files as files
    from ambientsweep.metrics.features import CnnConfig, train_record

    data = DataConfig()
    record = train_record(_splits(data), CnnConfig(), torch.device("cpu"))
    record = files.ExtractorRecord(
        record.name, record.data_key, record.header, record.state,
        {**record.settings, "data": data.model_dump(mode="json"),
         "made_by": "ambientsweep extractor make-default"},
    ).sealed()
    files.write_record(record, out)
    return record


def export_extractor(out: Path, *, source: Path | None, cache_dir: Path) -> tuple[Any, str]:
    """Write the extractor the data settings of ``source`` use to ``out``.

    Returns:
        (the record, where it came from: shipped | cache | trained).
    """
    import torch

    from ambientsweep.metrics import extractor_files as files
    from ambientsweep.metrics.features import cnn_record

    data = _data_config(source)
    record, where = cnn_record(_splits(data), cache_dir, torch.device("cpu"))
    settings = {**record.settings, "data": data.model_dump(mode="json")}
    record = files.ExtractorRecord(record.name, record.data_key, record.header, record.state,
                                   settings, record.digest)
    files.write_record(record, out)
    return record, where


def import_extractor(path: Path, *, cache_dir: Path, replace: bool = False) -> tuple[Any, str]:
    """Verify an extractor file and install it in the cache.

    Returns:
        (the record, what happened: ``installed`` | ``replaced`` | ``already installed`` |
        ``shipped``).

    Raises:
        UserError: the file is damaged; it is for the default settings but is not the shipped
            extractor (the defaults always use the shipped one); or the cache holds another
            extractor for the same settings and ``replace`` is false.
    """
    from ambientsweep.metrics import extractor_files as files

    record = files.read_record(path)
    shipped = files.SHIPPED_DIGITS_CNN
    if record.data_key == shipped.data_key:
        if record.digest == shipped.digest:
            return record, "shipped"
        raise UserError(f"{path}: made for the default settings (data key {record.data_key}), "
                        f"which always use the shipped extractor {shipped.digest}; this file "
                        f"has digest {record.digest} and would never be used")
    target = files.cache_path(cache_dir, record.name, record.data_key)
    what = "installed"
    if target.is_file():
        existing = files.read_record(target, legacy_header=record.header,
                                     legacy_key=record.data_key)
        if existing.digest == record.digest:
            return record, "already installed"
        if not replace:
            raise UserError(f"{target} already holds another extractor for these settings "
                            f"(digest {existing.digest}; the file has {record.digest}); pass "
                            "--replace to pin the imported one (metrics made with the old one "
                            "can then no longer be compared with new ones)")
        what = "replaced"
    files.write_record(record, target)
    return record, what


def describe(record: Any) -> str:
    """A few lines about an extractor record, for the terminal."""
    data = record.settings.get("data")
    lines = [f"name        {record.name}", f"digest      {record.digest}",
             f"data key    {record.data_key}",
             f"classes     {record.header.get('num_classes')}, in_channels "
             f"{record.header.get('in_channels')}"]
    if data:
        shown = {k: v for k, v in data.items() if v is not None}
        lines.append(f"data        {shown}")
    if "torch" in record.settings:
        lines.append(f"trained     torch {record.settings['torch']}")
    return "\n".join(lines) + "\n"
