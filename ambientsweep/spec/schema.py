"""The sweep spec: what a `sweeps/*.yaml` file may say (pydantic v2, frozen, no unknown keys).

A sweep = a base trial config (a file under ``configs/``) + fixed dotted overrides + a search
space over dotted keys + objectives + how to search, where to run and where to record.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from ambientsweep.methods import MethodSpec, rebuild_on_change
from ambientsweep.metrics import names
from ambientsweep.search.algorithms import ALGORITHMS, GRID, OPTUNA, OPTUNA_SAMPLERS

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,79}$")


def _unknown_metric(v: str) -> str:
    import difflib

    close = difflib.get_close_matches(v, names.KNOWN_METRICS, n=3, cutoff=0.5)
    hint = f"; did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    return (f"unknown metric {v!r}{hint} Common objectives: fd_digits_cnn, fid_inception, "
            "mem_ratio_pixels, mem_sim_p95_pixels, psnr_denoised; the pattern is fd_/kid_"
            f"<space> with <space> in {', '.join(names.FIDELITY_SPACES)}, and "
            "mem_ratio|sim_p95|sim_frac|unique_<space>[_clean|_noisy] with <space> in "
            f"{', '.join(names.MEMORIZATION_SPACES)}")


def _check_metric(cls: type, v: str) -> str:
    if not names.is_known_metric(v):
        raise ValueError(_unknown_metric(v))
    return v


class _Frozen(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


Scalar = float | int | str | bool | None


class Param(_Frozen):
    """One searched dotted key. Exactly one of the distribution fields is given."""

    grid: list[Scalar] | None = None  # every value is tried (grid search; cross product)
    choice: list[Scalar] | None = None  # categorical (random / optuna)
    uniform: tuple[float, float] | None = None  # [low, high]
    loguniform: tuple[float, float] | None = None  # [low, high], low > 0
    int: tuple[int, int] | None = None  # [low, high], inclusive
    step: float | None = Field(None, gt=0)  # quantisation for uniform / int
    when: dict[str, Scalar | list[Scalar]] | None = None  # active only if these keys match

    @model_validator(mode="after")
    def _one_kind(self) -> Param:
        given = [k for k in ("grid", "choice", "uniform", "loguniform", "int") if getattr(self, k)]
        if len(given) != 1:
            raise ValueError(
                "give exactly one of grid, choice, uniform, loguniform, int "
                f"(got {', '.join(given) or 'none'})"
            )
        kind = given[0]
        if kind in ("grid", "choice") and len(getattr(self, kind)) == 0:
            raise ValueError(f"{kind} needs at least one value")
        if kind in ("uniform", "loguniform", "int"):
            low, high = getattr(self, kind)
            if not low < high:
                raise ValueError(f"{kind} needs low < high, got [{low}, {high}]")
            if kind == "loguniform" and low <= 0:
                raise ValueError("loguniform needs low > 0")
        if self.step is not None and kind in ("grid", "choice", "loguniform"):
            raise ValueError(f"step applies to uniform and int, not {kind}")
        return self

    @property
    def kind(self) -> str:
        for k in ("grid", "choice", "uniform", "loguniform", "int"):
            if getattr(self, k) is not None:
                return k
        raise AssertionError("validated above")


class Objective(_Frozen):
    metric: str  # a metric key (ambientsweep.metrics.names)
    direction: Literal["min", "max"] | None = None  # default: the metric's own direction
    ref: float | None = None  # hypervolume reference point (worst acceptable value)

    _known = field_validator("metric")(_check_metric)

    @property
    def mode(self) -> Literal["min", "max"]:
        return self.direction or names.direction(self.metric)


class Search(_Frozen):
    algorithm: Literal[ALGORITHMS] = GRID  # type: ignore[valid-type]  # search.algorithms
    sampler: Literal[OPTUNA_SAMPLERS] = "tpe"  # type: ignore[valid-type]  # optuna only
    num_trials: int | None = Field(None, ge=1)  # configurations (random / optuna); grid: all
    max_concurrent: int | None = Field(None, ge=1)  # None = as many as resources allow
    n_startup_trials: int | None = Field(None, ge=1)  # optuna tpe/gp random start-up trials


class Resources(_Frozen):
    cpu: float = Field(1.0, gt=0)  # CPUs per trial
    gpu: float = Field(0.0, ge=0)  # GPUs per trial; fractions pack trials onto one GPU
    threads: int | None = Field(None, ge=1)  # torch threads per trial; None = cpu rounded
    # Once every trial has started, running trials raise their torch threads to use the CPUs
    # freed on their node (search/fill.py). Off: bitwise reproducible across runs.
    fill_idle: bool = False


class EarlyStopping(_Frozen):
    """Early stopping of trials (Ray Tune schedulers).

    asha / median watch ONE scalar ``metric``; moasha (multi-objective ASHA,
    ambientsweep.search.moasha_rank) ranks on several at once: ``metrics``, a subset of the
    sweep's objectives, default all of them. Rungs are fractions of each trial's own budget:
    ``rungs`` as listed, or grace * reduction_factor^k below 1 from ``grace_fraction`` or from
    ``grace_kimg`` (divided by the smallest full budget of the sweep's configurations, so every
    trial has trained at least grace_kimg at the first rung).
    """

    scheduler: Literal["asha", "median", "moasha"] = "asha"
    metric: str | None = None  # asha / median: ONE scalar reported during training
    metrics: list[str] | None = None  # moasha: a subset of the objectives (default all)
    mode: Literal["min", "max"] | None = None
    grace_kimg: float | None = Field(None, gt=0)  # never stop a trial before this many kimg
    grace_fraction: float | None = Field(None, gt=0, lt=1)  # ... or this fraction of its budget
    rungs: list[float] | None = None  # moasha: explicit rung fractions, increasing, in (0, 1)
    reduction_factor: int = Field(3, ge=2)

    @field_validator("metric")
    @classmethod
    def _known_metric(cls, v: str | None) -> str | None:
        return None if v is None else _check_metric(cls, v)

    @model_validator(mode="after")
    def _consistent(self) -> EarlyStopping:
        moasha = self.scheduler == "moasha"
        if moasha and (self.metric is not None or self.mode is not None):
            raise ValueError("early_stopping.moasha ranks on the objectives: give `metrics` "
                             "(a subset of the objectives), not `metric`/`mode`")
        if not moasha and self.metric is None:
            raise ValueError(f"early_stopping.{self.scheduler} needs `metric` (one scalar "
                             "reported during training, e.g. fd_digits_cnn or loss)")
        if not moasha and (self.metrics is not None or self.rungs is not None):
            raise ValueError("early_stopping.metrics and .rungs apply to scheduler moasha only")
        given = [k for k in ("grace_kimg", "grace_fraction", "rungs")
                 if getattr(self, k) is not None]
        if len(given) != 1:
            options = "grace_kimg, grace_fraction" + (", rungs" if moasha else "")
            raise ValueError(f"early_stopping: give exactly one of {options} "
                             f"(got {', '.join(given) or 'none'})")
        if self.rungs is not None and (
                not self.rungs or any(not 0 < r < 1 for r in self.rungs)
                or self.rungs != sorted(set(self.rungs))):
            raise ValueError("early_stopping.rungs must be increasing fractions of the budget "
                             f"in (0, 1), got {self.rungs}")
        return self


class Tracking(_Frozen):
    uri: str | None = None  # None = sqlite:///<workdir>/mlflow.db; or http://host:port
    experiment: str | None = None  # None = the sweep name


class Execution(_Frozen):
    address: str | None = None  # Ray cluster address; None = local Ray sized to the machine
    # Shared storage every node reaches: an absolute folder (Ray's state, trial folders, cache,
    # trial artifacts) or a pyarrow-fs URI such as s3://bucket/path (Ray's state, checkpoints).
    storage_path: str | None = None
    max_failures: int = Field(1, ge=0)  # retries of a trial that raised
    resume: Literal["auto", "never"] = "auto"  # auto: same command resumes an existing sweep

    @field_validator("storage_path")
    @classmethod
    def _storage_path_form(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if "://" in v:
            scheme = v.split("://", 1)[0]
            if not scheme.isidentifier() or not v.split("://", 1)[1].strip("/"):
                raise ValueError(f"{v!r} is not a storage URI (scheme://bucket/path)")
            return v
        if not Path(v).expanduser().is_absolute():
            raise ValueError(f"{v!r} is relative; every node must reach it: give an absolute "
                             "path of a shared folder, or a URI such as s3://bucket/path")
        return v


class SweepSpec(_Frozen):
    name: str  # folder name in the work dir and MLflow experiment name
    description: str = ""
    base: str  # trial config file (YAML), relative to the sweep file's folder or the project
    method: MethodSpec | None = None  # replaces the base config's method section
    overrides: dict[str, Any] = Field(default_factory=dict)  # fixed dotted keys for every trial
    space: dict[str, Param] = Field(default_factory=dict)
    objectives: Annotated[list[Objective], Field(min_length=1)]
    search: Search = Search()
    seed: int = 0  # sweep seed: keys the data (subset, masks, noise) of every trial
    replicates: int = Field(1, ge=1)  # seed replicates per configuration
    resources: Resources = Resources()
    early_stopping: EarlyStopping | None = None
    tracking: Tracking = Tracking()
    execution: Execution = Execution()

    @field_validator("name")
    @classmethod
    def _safe_name(cls, v: str) -> str:
        if not NAME_RE.match(v) or ".." in v:
            raise ValueError(
                "name must be 1-80 characters of letters, digits, '_', '-', '.' "
                "(it becomes a folder in the work dir)"
            )
        return v

    @model_validator(mode="after")
    def _consistent(self) -> SweepSpec:
        for key, p in self.space.items():
            if key in ("seed", "replicate"):
                raise ValueError(f"space.{key}: use `seed` and `replicates` at the top level")
            for dep in (p.when or {}):
                if dep not in self.space:
                    raise ValueError(f"space.{key}.when: {dep!r} is not a searched key")
        self.ordered_space()  # raises on a cycle of `when` conditions
        if self.search.algorithm == GRID:
            bad = [k for k, p in self.space.items() if p.kind not in ("grid", "choice")]
            if bad:
                raise ValueError(
                    f"search.algorithm grid needs grid/choice values; {', '.join(bad)} "
                    "are distributions (use algorithm random or optuna)"
                )
            if self.search.num_trials is not None:
                raise ValueError("search.num_trials does not apply to grid search (all points)")
        else:
            if self.search.num_trials is None:
                raise ValueError(f"search.num_trials is required for {self.search.algorithm}")
            if not self.space:
                raise ValueError(f"space is empty: nothing for {self.search.algorithm} to search")
        es = self.early_stopping
        if es is not None and es.metrics is not None:
            unknown = [m for m in es.metrics if m not in self.metric_names]
            if unknown or not es.metrics:
                raise ValueError(
                    f"early_stopping.metrics: {', '.join(unknown) or 'empty'} "
                    f"{'is' if len(unknown) == 1 else 'are'} not among the objectives "
                    f"({', '.join(self.metric_names)}); list a subset of them or leave it out")
        if self.search.algorithm != OPTUNA and "sampler" in self.search.model_fields_set:
            raise ValueError("search.sampler applies to algorithm optuna only")
        return self

    def ordered_space(self) -> list[tuple[str, Param]]:
        """Searched keys with every `when` dependency before the keys that depend on it."""
        order: list[str] = []
        visiting: set[str] = set()

        def visit(key: str) -> None:
            if key in order:
                return
            if key in visiting:
                raise ValueError(f"space.{key}.when: the `when` conditions form a cycle")
            visiting.add(key)
            for dep in self.space[key].when or {}:
                visit(dep)
            visiting.discard(key)
            order.append(key)

        for key in self.space:
            visit(key)
        return [(k, self.space[k]) for k in order]

    @property
    def directions(self) -> list[Literal["min", "max"]]:
        return [o.mode for o in self.objectives]

    @property
    def metric_names(self) -> list[str]:
        return [o.metric for o in self.objectives]


rebuild_on_change(SweepSpec)
