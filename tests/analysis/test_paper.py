"""The paper-style Pareto figure: one column wide, serif text, vector files."""

from __future__ import annotations

import re
from pathlib import Path

from ambientsweep.analysis.export import export_pareto
from ambientsweep.analysis.paper import PAPER_SIZE_IN


def test_paper_style_is_one_column_serif_vector(results, objectives, tmp_path: Path) -> None:
    written = export_pareto(results, objectives, "pdf,svg", tmp_path, style="paper")
    assert written["pdf"].read_bytes().startswith(b"%PDF")
    svg = written["svg"].read_text()
    width = float(re.search(r'<svg[^>]*\bwidth="([\d.]+)pt"', svg).group(1))
    height = float(re.search(r'<svg[^>]*\bheight="([\d.]+)pt"', svg).group(1))
    assert abs(width - PAPER_SIZE_IN[0] * 72) < 0.01
    assert abs(height - PAPER_SIZE_IN[1] * 72) < 0.01
    assert "<text" in svg and "serif" in svg  # text kept as text, in a serif family
    assert "fidelity–memorization front" not in svg  # no title: the caption says it
    default = export_pareto(results, objectives, "svg", tmp_path / "d")["svg"].read_text()
    assert re.search(r'<svg[^>]*\bwidth="576pt"', default)  # 8 in: the default is untouched
