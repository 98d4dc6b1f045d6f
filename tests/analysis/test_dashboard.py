"""The HTML dashboard: self-contained, and rendered in headless Chromium through selenium.

The browser test (``tests/browser.py``) needs Debian's ``chromium`` and ``chromium-driver``
and the ``selenium`` package. Without them it skips, except under CI (``CI=true``), where it
fails.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np
from plotly.offline import get_plotlyjs

from ambientsweep.analysis.dashboard import thumbnail_uri, write_dashboard
from tests.browser import ARTIFACTS, chromium, require_browser


def n_trials_with_metrics(results, objectives) -> int:
    names = [o[0] for o in objectives]
    return sum(
        int(np.isfinite(df[names].to_numpy(float)).all(axis=1).sum()) for df in results.values()
    )


def test_page_is_self_contained(results, objectives, tmp_path: Path) -> None:
    page = write_dashboard(results, objectives, tmp_path / "d" / "pareto.html")
    text = page.read_text(encoding="utf-8")
    plotly_js = get_plotlyjs()
    assert plotly_js in text  # plotly.js inlined ...
    ours = text.replace(plotly_js, "")  # ... and nothing else loads from the network
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", ours)
    assert "data:image/png;base64," in ours
    assert "${" not in ours.split("<body>", 1)[0]  # every placeholder filled
    assert thumbnail_uri(None) is None and thumbnail_uri(tmp_path / "missing.png") is None


def test_dashboard_in_headless_chromium(results, objectives, tmp_path: Path) -> None:
    require_browser()
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By

    page = write_dashboard(results, objectives, tmp_path / "pareto.html")
    with chromium(tmp_path) as driver:
        driver.get(page.as_uri())
        deadline = time.monotonic() + 20
        while not driver.execute_script("return window.dashboardReady === true"):
            assert time.monotonic() < deadline, "dashboard did not finish rendering"
            time.sleep(0.1)
        # One scatter point per trial that has metrics, each trial exactly once.
        ids = driver.execute_script(
            "var gd = document.getElementById('pareto'); var out = [];"
            "gd.data.forEach(function (t) { if (t.meta && t.meta.role === 'trial') {"
            "  for (var i = 0; i < t.x.length; i++) { out.push(t.customdata[i]); } } });"
            "return out;"
        )
        assert len(ids) == len(set(ids)) == n_trials_with_metrics(results, objectives)
        n_plots = driver.execute_script(
            "return document.querySelectorAll('.js-plotly-plot').length"
        )
        assert n_plots == 1 + 2 * len(results)  # scatter + parcoords and trends per sweep
        # Hovering the first trial shows its parameters and sample thumbnails in the panel.
        dx, dy = driver.execute_script(
            "var gd = document.getElementById('pareto'), L = gd._fullLayout, t = gd.data[0];"
            "var r = gd.getBoundingClientRect();"
            "return [L._size.l + L.xaxis.d2p(t.x[0]) - r.width / 2,"
            "        L._size.t + L.yaxis.d2p(t.y[0]) - r.height / 2];"
        )
        plot = driver.find_element(By.ID, "pareto")
        ActionChains(driver).move_to_element_with_offset(plot, int(dx), int(dy)).perform()
        panel = driver.find_element(By.ID, "trial-panel")
        deadline = time.monotonic() + 5
        while panel.get_attribute("data-trial") is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert panel.get_attribute("data-trial") == "sfbd_000"
        assert panel.find_elements(By.CSS_SELECTOR, "img[src^='data:image/png;base64,']")
        errors = [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]
        assert not errors, errors
        height = driver.execute_script("return document.documentElement.scrollHeight")
        driver.set_window_size(1400, min(int(height) + 40, 6000))  # whole page in the shot
        ARTIFACTS.mkdir(exist_ok=True)
        assert driver.save_screenshot(str(ARTIFACTS / "dashboard.png"))
