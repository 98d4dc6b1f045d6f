"""Headless Chromium through selenium for the browser tests (the dashboard, the MLflow UI).

Needs Debian's ``chromium`` and ``chromium-driver`` and the ``selenium`` package (``make
browser`` installs the first two). Without them a test skips, except under CI (``CI=true``),
where it fails.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # git-ignored screenshots


def require_browser() -> Any:
    """selenium's webdriver module, or skip (fail under CI) naming what is missing."""
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    try:
        from selenium import webdriver
    except ImportError:
        missing.append("the selenium package (pip install selenium)")
        webdriver = None
    if missing:
        reason = (f"headless browser test needs {', '.join(missing)}; install with "
                  "apt-get install -y chromium chromium-driver")
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    return webdriver


@contextmanager
def chromium(tmp_path: Path, size: tuple[int, int] = (1400, 2400)) -> Iterator[Any]:
    """A fresh headless Chromium (its own empty profile under ``tmp_path``), quit at the end."""
    webdriver = require_browser()
    from selenium.webdriver.chrome.service import Service

    profile = tempfile.mkdtemp(prefix="chromium-profile-", dir=tmp_path)
    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in (*CHROMIUM_FLAGS, f"--window-size={size[0]},{size[1]}",
                 f"--user-data-dir={profile}"):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    service = Service(str(CHROMEDRIVER), log_output=str(tmp_path / "chromedriver.log"))
    driver = webdriver.Chrome(service=service, options=options)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
