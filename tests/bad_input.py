"""What the bad-input tests share: a quick base config (never trained here), a sweep file
written beside it, and the check every refusal passes (exit 2, the message, no traceback)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

# Valid and small: the files under test are refused before anything trains.
QUICK_BASE = textwrap.dedent("""\
    data: {name: digits, train_size: 50}
    model: {backbone: mlp}
    train: {kimg: 0.64}
    eval: {num_samples: 64}
    method: {kind: edm}
""")


def write_files(tmp_path: Path, text: str | bytes, base: str = QUICK_BASE, name: str = "sweep",
                base_name: str = "base.yaml") -> Path:
    """`base` as tmp_path/<base_name>, and `text` (unless empty) as tmp_path/<name>.yaml;
    the sweep file's path (written or not)."""
    (tmp_path / base_name).write_text(base, encoding="utf-8")
    path = tmp_path / f"{name}.yaml"
    if isinstance(text, bytes):
        path.write_bytes(text)
    elif text:
        path.write_text(text)
    return path


def assert_refused(res: Any, fragments: list[str] | tuple[str, ...] = (),
                   context: object = None) -> str:
    """A CLI result (typer's CliRunner) that refused: exit status 2, no traceback, every
    fragment in the message on stderr; returns that message."""
    assert res.exit_code == 2, (context, res.output, res.exception)
    assert "Traceback" not in res.output, (context, res.output)
    msg = res.stderr
    for frag in fragments:
        assert frag in msg, (context, frag, msg)
    return msg
