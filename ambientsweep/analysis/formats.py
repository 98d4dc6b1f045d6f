"""The export formats: the one list the CLI, the end-of-sweep export and ``export_pareto`` use.

Light on purpose (no numpy, pandas or matplotlib), so the command line can build its help text
and check ``--format`` without loading the drawing code.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["FORMATS", "IMAGE_FORMATS", "RUN_FORMATS", "parse_formats"]

IMAGE_FORMATS: tuple[str, ...] = ("png", "svg", "pdf")  # the Pareto figure (matplotlib)
FORMATS: tuple[str, ...] = (*IMAGE_FORMATS, "csv", "json", "html")
# What the end of `ambientsweep run` writes unless --format says otherwise (the rest on demand
# with `ambientsweep pareto -f ...`): one figure, the table and the dashboard.
RUN_FORMATS: tuple[str, ...] = ("png", "csv", "html")


def parse_formats(formats: str | Iterable[str]) -> list[str]:
    """``"png,svg, csv"`` or ``["png", "csv"]`` -> checked, de-duplicated list in given order.

    Raises:
        ValueError: an unknown format, or none at all; the message lists the allowed ones.
    """
    items = formats.split(",") if isinstance(formats, str) else list(formats)
    out: list[str] = []
    for f in (i.strip().lower().lstrip(".") for i in items):
        if not f:
            continue
        if f not in FORMATS:
            raise ValueError(f"unknown export format {f!r}; allowed: {', '.join(FORMATS)}")
        if f not in out:
            out.append(f)
    if not out:
        raise ValueError(f"no export format given; allowed: {', '.join(FORMATS)}")
    return out
