"""Load a sweep file: YAML -> SweepSpec -> one validated TrialConfig per point.

Every problem is collected into one :class:`SpecError` whose message names the file, the key
path, the line where the YAML gives one, what was wrong and what is allowed.
"""

from __future__ import annotations

import dataclasses
import difflib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ValidationError

from ambientsweep.config import TrialConfig
from ambientsweep.errors import UserError
from ambientsweep.methods import default_kind, kinds, method_spec
from ambientsweep.spec.schema import Param, SweepSpec

PROJECT_ROOT = Path(__file__).resolve().parents[2]


class SpecError(UserError):
    """A sweep file or base config that cannot be used as written."""


@dataclass(frozen=True)
class LoadedSweep:
    spec: SweepSpec
    path: Path  # the sweep file (absolute)
    base_path: Path  # the resolved base config file (absolute)
    base: dict[str, Any]  # base config with the sweep's method and overrides applied

    @property
    def method_kind(self) -> str:
        """The trials' method kind (the base's ``method.kind``, or the default kind)."""
        return str(self.base.get("method", {}).get("kind", default_kind()))

    def with_overrides(self, dotted: dict[str, Any]) -> LoadedSweep:
        """The same sweep with more fixed dotted keys in its base (smoke budget, threads)."""
        return dataclasses.replace(self, base=_merge_dotted(self.base, dotted))

    def trial_config(self, params: dict[str, Any], replicate: int = 0) -> TrialConfig:
        """The resolved config of one trial: base + searched params + seed + replicate."""
        cfg = _merge_dotted(self.base, params)
        cfg["seed"] = self.spec.seed
        cfg["replicate"] = replicate
        return TrialConfig.model_validate(cfg)


# ----------------------------------------------------------------------------------------------
# YAML with line numbers (bounded, unambiguous: ambientsweep.spec.safe_yaml).


def _read_yaml(path: Path) -> tuple[Any, dict[tuple[str, ...], int]]:
    from ambientsweep.spec.safe_yaml import YamlRefused, read_yaml

    try:
        return read_yaml(path)
    except YamlRefused as e:
        raise SpecError(str(e)) from None


# ----------------------------------------------------------------------------------------------
# Error messages.


def _allowed_keys(model: type[BaseModel], loc: tuple[Any, ...]) -> list[str] | None:
    """Field names of the (nested) model at `loc`, for 'did you mean' hints."""
    current: Any = model
    for part in loc:
        if not (isinstance(current, type) and issubclass(current, BaseModel)):
            return None
        field = current.model_fields.get(str(part))
        if field is None:
            # Discriminated union member (loc has the tag) or dict value: follow the annotation.
            return None
        current = _model_of(field.annotation)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return None


def _model_of(annotation: Any) -> Any:
    args = getattr(annotation, "__args__", None)
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for a in args or ():
        m = _model_of(a)
        if m is not None:
            return m
    return None


def _format_errors(
    err: ValidationError,
    *,
    file: Path,
    prefix: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    model: type[BaseModel],
    discriminated: tuple[str, ...] = ("method",),
) -> list[str]:
    out = []
    for e in err.errors(include_url=False):
        loc = tuple(str(p) for p in e["loc"])
        # pydantic puts the union tag into the loc (method.sfbd.sigma); drop it for the user.
        shown = list(loc)
        for i in range(len(shown) - 1):
            if (shown[i] in discriminated and i + 1 < len(shown)
                    and e["type"] != "union_tag_invalid"):
                del shown[i + 1]
                break
        full = prefix + tuple(shown)
        line = _nearest_line(lines, full)
        where = f"{file}{f':{line}' if line else ''}"
        key = ".".join(full) or "(top level)"
        msg = e["msg"]
        if e["type"] == "extra_forbidden":
            allowed = _allowed_for(model, tuple(shown[:-1]), loc)
            hint = _did_you_mean(shown[-1], allowed)
            msg = f"unknown key {shown[-1]!r}{hint}"
            if allowed:
                msg += f" (allowed: {', '.join(allowed)})"
        elif e["type"] == "union_tag_invalid":
            tag = e["ctx"].get("tag") if e.get("ctx") else None
            tag = tag if tag is not None else e["input"]
            msg = f"unknown method kind {tag!r}; allowed: {', '.join(kinds())}"
        elif e["type"] == "missing":
            msg = "required key is missing"
        out.append(f"{where}: {key}: {msg}")
    return out


def _allowed_for(model: type[BaseModel], shown_parent: tuple[str, ...],
                 loc: tuple[str, ...]) -> list[str]:
    # Inside the method union, loc = (..., 'method', '<kind>', 'key'): that kind's keys.
    for i, part in enumerate(loc[:-1]):
        if part in kinds() and i > 0 and loc[i - 1] == "method":
            return list(method_spec(part).model_fields)
    return _allowed_keys(model, shown_parent) or []


def _did_you_mean(word: str, options: list[str]) -> str:
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {match[0]!r}?" if match else ""


def _nearest_line(lines: dict[tuple[str, ...], int], key: tuple[str, ...]) -> int | None:
    for n in range(len(key), 0, -1):
        if key[:n] in lines:
            return lines[key[:n]]
    return None


# ----------------------------------------------------------------------------------------------
# Dotted keys.


def _merge_dotted(base: dict[str, Any], dotted: dict[str, Any]) -> dict[str, Any]:
    out = _deepcopy(base)
    for key, value in dotted.items():
        parts = key.split(".")
        node = out
        for p in parts[:-1]:
            nxt = node.get(p)
            if not isinstance(nxt, dict):
                nxt = {}
                node[p] = nxt
            node = nxt
        node[parts[-1]] = value
    return out


def _deepcopy(d: Any) -> Any:
    if isinstance(d, dict):
        return {k: _deepcopy(v) for k, v in d.items()}
    if isinstance(d, list):
        return [_deepcopy(v) for v in d]
    return d


def _resolve_base(base: str, sweep_path: Path) -> Path | None:
    for root in (sweep_path.parent, sweep_path.parent.parent, PROJECT_ROOT, Path.cwd()):
        p = (root / base).resolve()
        if p.is_file():
            return p
    return None


def _probe_values(p: Param) -> list[Any]:
    """Values of a searched key that must all give a valid trial config."""
    if p.grid is not None:
        return list(p.grid)
    if p.choice is not None:
        return list(p.choice)
    bounds = p.uniform or p.loguniform or p.int
    assert bounds is not None
    return list(bounds)


# ----------------------------------------------------------------------------------------------


def load_sweep(path: str | Path, *, allow_large: bool = False) -> LoadedSweep:
    """Read and validate a sweep file and its base config. Raises SpecError on any problem.

    Bounded time and memory for any file (``spec.safe_yaml``, ``spec.limits``); the caps on
    sizes and budgets are lifted by ``allow_large`` (the CLI's ``--allow-large``).
    """
    from ambientsweep.spec import checks
    from ambientsweep.spec.limits import limits_for

    limits = limits_for(allow_large)
    path = Path(path).resolve()
    if not path.is_file():
        raise SpecError(f"{path}: no such sweep file")
    data, lines = _read_yaml(path)
    if not isinstance(data, dict):
        raise SpecError(f"{path}: a sweep file must be a YAML mapping (name:, base:, ...)")
    try:
        spec = SweepSpec.model_validate(data)
    except ValidationError as e:
        raise SpecError("\n".join(_format_errors(e, file=path, prefix=(), lines=lines,
                                                 model=SweepSpec))) from None
    size = checks.size_errors(spec, path, lines, limits)
    if size:
        raise SpecError("\n".join(size))

    base_path = _resolve_base(spec.base, path)
    if base_path is None:
        line = lines.get(("base",))
        raise SpecError(
            f"{path}{f':{line}' if line else ''}: base: config file {spec.base!r} not found "
            f"(looked next to the sweep file, in its parent folder and in {PROJECT_ROOT})"
        )
    base_data, base_lines = _read_yaml(base_path)
    if base_data is None:
        base_data = {}
    if not isinstance(base_data, dict):
        raise SpecError(f"{base_path}: a base config must be a YAML mapping")
    for reserved in ("seed", "replicate"):
        if reserved in base_data:
            raise SpecError(f"{base_path}: {reserved}: set it in the sweep file, not the base")
    try:
        TrialConfig.model_validate(base_data)
    except ValidationError as e:
        raise SpecError("\n".join(_format_errors(e, file=base_path, prefix=(), lines=base_lines,
                                                 model=TrialConfig))) from None

    merged = _deepcopy(base_data)
    if spec.method is not None:
        merged["method"] = data["method"]
    merged = _merge_dotted(merged, spec.overrides)
    errors: list[str] = []
    errors += _check_config(merged, {}, path, ("overrides",), lines)
    # Every searched key must be a real config key, and every probe value must validate.
    probes: list[tuple[tuple[str, ...], dict[str, Any]]] = []
    for key, param in spec.space.items():
        for i, value in enumerate(_probe_values(param)):
            where = ("space", key, param.kind, str(i))
            errs = _check_config(merged, {key: value}, path, where, lines, searched=key)
            if errs:
                errors += errs
                break
            probes.append((where, {key: value}))
    if errors:
        raise SpecError("\n".join(dict.fromkeys(errors)))
    # Budgets under the caps and objectives reported, for the fixed config, every probe value
    # and (grid) every point, counted lazily up to the cap.
    loaded = LoadedSweep(spec=spec, path=path, base_path=base_path, base=merged)
    errors = checks.plan_errors(loaded, lines, base_lines, limits, probes)
    if errors:
        raise SpecError("\n".join(errors))
    from ambientsweep.spec.stopping import stopping_problems

    stopping = stopping_problems(loaded)  # the scheduler's metrics are reported during training
    if stopping:
        raise SpecError("\n".join(stopping))
    return loaded


def _check_config(
    merged: dict[str, Any],
    params: dict[str, Any],
    file: Path,
    where: tuple[str, ...],
    lines: dict[tuple[str, ...], int],
    searched: str | None = None,
) -> list[str]:
    try:
        cfg = _merge_dotted(merged, params)
        TrialConfig.model_validate(cfg)
    except ValidationError as e:
        out = []
        for x in e.errors(include_url=False):
            loc = ".".join(str(p) for p in x["loc"] if p not in kinds()
                           or x["loc"][0] != "method")
            line = _nearest_line(lines, where)
            w = f"{file}{f':{line}' if line else ''}"
            label = ".".join(where)
            if x["type"] == "extra_forbidden":
                parent = loc.rsplit(".", 1)[0] if "." in loc else ""
                allowed = _allowed_for(TrialConfig, tuple(parent.split(".")) if parent else (),
                                       tuple(str(p) for p in x["loc"]))
                hint = _did_you_mean(loc.rsplit(".", 1)[-1], allowed)
                out.append(f"{w}: {label}: {loc!r} is not a config key{hint}"
                           + (f" (allowed under {parent or 'the top level'}: "
                              f"{', '.join(allowed)})" if allowed else ""))
            else:
                value = f" = {x['input']!r}" if searched and "input" in x else ""
                out.append(f"{w}: {label}: {loc}{value}: {x['msg']}")
        return out
    return []


def grid_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """All points of a grid sweep (cross product of grid/choice values; `when` respected).

    Bounded for a spec that :func:`load_sweep` accepted (it counts the points under a cap).
    """
    from ambientsweep.spec.checks import iter_grid_points

    return list(iter_grid_points(spec))


def is_active(param: Param, point: dict[str, Any]) -> bool:
    """Whether a conditional parameter applies, given the values of the others."""
    for dep, want in (param.when or {}).items():
        wants = want if isinstance(want, list) else [want]
        if point.get(dep) not in wants:
            return False
    return True
