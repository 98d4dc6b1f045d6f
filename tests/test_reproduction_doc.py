"""REPRODUCTION.md quotes only what committed commands wrote.

Every measured table in REPRODUCTION.md sits between ``<!-- from docs/reproduction/X.md -->``
and ``<!-- end -->`` and must appear verbatim in that file, which ``make reproduction-exports``
writes with ``ambientsweep report``; every figure it shows must be a file that the same target
exports with ``ambientsweep pareto``. So a number edited by hand, or a table left over from an
older run, fails here.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "REPRODUCTION.md"
QUOTE = re.compile(r"<!-- from (\S+) -->\n(.*?)<!-- end -->", re.S)
FIGURE = re.compile(r"!\[[^\]]*\]\(([^)]+)\)")


def _exports_target() -> str:
    text = (ROOT / "Makefile").read_text()
    body = text.split("\nreproduction-exports:", 1)[1]
    return body.split("\n\n", 1)[0].replace("$(DOCS)", "docs/reproduction")


def _quotes() -> list[tuple[str, str]]:
    return QUOTE.findall(DOC.read_text())


def test_doc_quotes_tables_and_shows_figures() -> None:
    text = DOC.read_text()
    assert len(_quotes()) >= 6, "REPRODUCTION.md should quote the report tables it discusses"
    assert FIGURE.findall(text), "REPRODUCTION.md should show the exported Pareto figures"


@pytest.mark.parametrize("source,block", _quotes() if DOC.exists() else [])
def test_quoted_table_is_verbatim_from_a_committed_command(source: str, block: str) -> None:
    path = ROOT / source
    assert path.is_file(), f"{source} is quoted but not committed"
    assert f"--out {source}" in _exports_target(), f"no reproduction-exports line writes {source}"
    assert block.strip(), f"empty quote of {source}"
    assert block.strip() in path.read_text(), f"the quote of {source} differs from the file"


@pytest.mark.parametrize("figure", FIGURE.findall(DOC.read_text()) if DOC.exists() else [])
def test_figure_is_exported_by_pareto(figure: str) -> None:
    assert (ROOT / figure).is_file(), f"{figure} is shown but not committed"
    folder = str(Path(figure).parent)  # `pareto --out` names a folder of pareto_*.png files
    assert Path(figure).name.startswith("pareto"), f"{figure} is not a pareto export"
    out = re.compile(rf"--out {re.escape(folder)}(\s|$)")
    line = next((ln for ln in _exports_target().splitlines() if out.search(ln)), "")
    assert line, f"no reproduction-exports line writes {figure}"
    assert "pareto" in line or "pareto" in _line_before(line), f"{figure} is not a pareto export"


def _line_before(line: str) -> str:
    lines = _exports_target().splitlines()
    i = lines.index(line)
    return lines[i - 1] if i else ""
