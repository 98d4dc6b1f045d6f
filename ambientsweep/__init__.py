"""ambientsweep: sweeps of diffusion models trained on corrupted data, with fidelity-memorization
Pareto fronts. The command line is :mod:`ambientsweep.cli`; the layout is in docs/contracts.md."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__: str = version("ambientsweep")
except PackageNotFoundError:  # run from a source tree that was never installed
    __version__ = "0+unknown"

__all__ = ["__version__"]
