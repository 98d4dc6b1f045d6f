"""Schema versions of what ambientsweep writes, and which older versions each action reads.

A work dir outlives the code that wrote it: a sweep folder, a trial checkpoint and an MLflow
parent run record :data:`SCHEMA_VERSION`. Before an action uses one, it calls
:func:`check_version`, which stops with a message saying what to do when the thing was written
by a version this code cannot use for that action:

- ``resume`` (continue a sweep, resume a trial from its checkpoint): needs the same config
  hashes, so only versions from :data:`READS` ``["resume"]`` on;
- ``export`` (report, pareto, dashboard, status over recorded runs): reads every version;
- ``load_model`` (sample, commitment: a checkpoint's EMA denoiser): versions whose models mean
  the same (bump ``READS["load_model"]`` when preconditioning or a method's model changes).

Anything newer than :data:`SCHEMA_VERSION` is refused for every action (upgrade ambientsweep).
Folders written before versions were recorded are version 1.

Tag renames: :data:`TAG_RENAMES` maps a tag's current name to the names it had before (and
:func:`tag_names` goes both ways), so runs recorded under an old name are still read.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from ambientsweep.errors import UserError

SCHEMA_VERSION = 2

CHANGES: dict[int, str] = {
    1: "the first release (no version recorded)",
    2: "config_hash and the training seeds leave out execution-only fields (threads, device, "
       "data root, compile, memory fraction, logging and checkpoint cadence); sweep folders, "
       "checkpoints and parent runs record schema_version",
}

Action = Literal["resume", "export", "load_model"]
READS: dict[str, int] = {"resume": 2, "export": 1, "load_model": 1}  # oldest version readable

VERSION_KEY = "schema_version"  # in sweep.json, spec.json and checkpoints
TAG_SCHEMA_VERSION = "ambientsweep.schema_version"  # on the parent run

# Current tag name -> names it had before. Issue 19 namespaces the bare tags under
# `ambientsweep.`; both spellings are read whichever one the code writes.
TAG_RENAMES: dict[str, tuple[str, ...]] = {
    "ambientsweep.config_hash": ("config_hash",),
    "ambientsweep.group_id": ("group_id",),
    "ambientsweep.method": ("method",),
    "ambientsweep.device": ("device",),
    "ambientsweep.ray_node_id": ("ray.node_id",),
    "ambientsweep.extractor_digest": ("extractor_digest",),
}


class IncompatibleVersion(UserError):
    """Something in the work dir was written by a schema version this action cannot use."""


def check_version(found: int | None, action: Action, what: str, fix: str = "") -> None:
    """Raise :class:`IncompatibleVersion` when `what` (written at version `found`, None = 1)
    cannot be used for `action` by this code; `fix` says what to do instead."""
    found = 1 if found is None else int(found)
    if found > SCHEMA_VERSION:
        raise IncompatibleVersion(
            f"{what} was written by a newer ambientsweep (schema version {found}; this one "
            f"reads up to {SCHEMA_VERSION}). Upgrade ambientsweep to use it "
            "(pip install -U ambientsweep, or check out a newer version).")
    oldest = READS[action]
    if found < oldest:
        changed = "; ".join(f"version {v}: {CHANGES[v]}" for v in range(found + 1,
                                                                        SCHEMA_VERSION + 1))
        raise IncompatibleVersion(
            f"{what} was written with schema version {found}; this ambientsweep writes "
            f"version {SCHEMA_VERSION} and cannot {action.replace('_', ' ')} from versions "
            f"before {oldest} ({changed}). {fix}".rstrip())


def read_json_version(path: Path) -> int | None:
    """``schema_version`` of a JSON file written by ambientsweep (1 when absent); None when the
    file does not exist."""
    path = Path(path)
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise UserError(f"{path}: unreadable ({e}); move the folder aside") from None
    return int(data.get(VERSION_KEY, 1)) if isinstance(data, dict) else 1


def tag_names(name: str) -> tuple[str, ...]:
    """`name` and every name the same tag had or has (renames both ways), `name` first."""
    out = [name]
    for new, olds in TAG_RENAMES.items():
        family = (new, *olds)
        if name in family:
            out += [n for n in family if n not in out]
    return tuple(out)


def read_tag(tags: Mapping[str, str], name: str, default: str | None = None) -> str | None:
    """The value of tag `name` in `tags`, under its current or any renamed spelling."""
    for n in tag_names(name):
        if n in tags:
            return tags[n]
    return default
