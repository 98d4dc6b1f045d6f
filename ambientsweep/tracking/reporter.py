"""Where a trial's numbers go. The trial and trainer only see this protocol (no ray, no mlflow)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from ambientsweep.tracking.datasets import TrainingData


class Reporter(Protocol):
    def report(self, metrics: dict[str, float], *, step: int) -> None:
        """Record metrics measured at `step` (images seen, or the round for per-round metrics)."""

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        """Attach a file (sample grid, gallery, checkpoint config) to the trial."""

    def set_tags(self, tags: dict[str, str]) -> None:
        """Attach string tags (method facts, final state) to the trial."""

    def training_data(self, data: TrainingData) -> None:
        """Describe what the trial trains on (MLflow: the run's dataset input)."""


@dataclass
class ListReporter:
    """Keeps everything in memory; what tests and the plain-Python loop use."""

    records: list[tuple[int, dict[str, float]]] = field(default_factory=list)
    artifacts: list[Path] = field(default_factory=list)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[TrainingData] = field(default_factory=list)

    def report(self, metrics: dict[str, float], *, step: int) -> None:
        self.records.append((step, dict(metrics)))

    def artifact(self, path: Path, subdir: str | None = None) -> None:
        self.artifacts.append(Path(path))

    def set_tags(self, tags: dict[str, str]) -> None:
        self.tags.update(tags)

    def training_data(self, data: TrainingData) -> None:
        self.datasets.append(data)

    def last(self, key: str) -> float:
        """The last reported value of `key` (KeyError if never reported)."""
        for _, m in reversed(self.records):
            if key in m:
                return m[key]
        raise KeyError(key)

    def series(self, key: str) -> list[tuple[int, float]]:
        return [(s, m[key]) for s, m in self.records if key in m]
