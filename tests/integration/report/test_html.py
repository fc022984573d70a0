"""``tgstat report --html``: plotly charts inlined, drawn in a real headless Chromium."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from plotly.offline import get_plotlyjs  # type: ignore[import-untyped]

from tests.integration.report.conftest import LAB, Run

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MARKS_JS = """
(id) => {
  const root = document.getElementById(id);
  const drawn = (el) => { const b = el.getBBox(); return b.width > 0 && b.height > 0; };
  const count = (selector) => [...root.querySelectorAll(selector)].filter(drawn).length;
  return [count("g.barlayer g.point path"), count("g.scatterlayer path.point"),
          count("g.scatterlayer path.js-line")];
}
"""


def browser_or_skip() -> Any:
    """playwright's async API, when it and Debian's chromium are here (CI installs both:
    there a missing one fails the test instead)."""
    try:
        from playwright.async_api import async_playwright
    except ImportError:
        async_playwright = None
    if async_playwright is None or not CHROMIUM.exists():
        if os.environ.get("CI"):
            pytest.fail("the HTML test needs playwright (dev extra) and /usr/bin/chromium")
        pytest.skip("needs playwright and Debian's chromium (apt-get install chromium)")
    return async_playwright


class TestHtml:
    """The page opens in a real headless Chromium without any request leaving it, and
    every chart has drawn marks for the scenario's data."""

    async def test_page(self, tgstat: Callable[..., Run], tmp_path: Path) -> None:
        async_playwright = browser_or_skip()
        path = tmp_path / "report.html"
        run = tgstat("--channel", "@metrics_lab", "--html", str(path))
        assert (run.code, run.out, run.err) == (0, "", f"wrote {path} (6 charts)\n")
        page_text = path.read_text()
        assert page_text.count(get_plotlyjs()) == 1  # plotly.js inlined, once
        # outside it, nothing refers to another resource
        markup = page_text.replace(get_plotlyjs(), "")
        assert not re.findall(r"""(?:src|href)\s*=|@import|url\(""", markup)

        requests: list[str] = []
        errors: list[str] = []
        async with async_playwright() as pw:
            browser = await pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_FLAGS)
            context = await browser.new_context(viewport={"width": 1200, "height": 900})

            async def guard(route: Any) -> None:
                requests.append(route.request.url)
                if route.request.url.startswith(("file:", "data:")):
                    await route.continue_()
                else:
                    await route.abort()

            await context.route("**/*", guard)
            page = await context.new_page()
            page.on("pageerror", lambda e: errors.append(str(e)))
            await page.goto(path.as_uri())
            await page.wait_for_function(
                "document.querySelectorAll('div.plotly-graph-div.js-plotly-plot').length == 6"
            )
            marks = {n: await page.evaluate(MARKS_JS, f"chart-{LAB}-{n}") for n in range(1, 7)}
            shot = tmp_path / "report.png"
            await page.screenshot(path=str(shot), full_page=True)
            await browser.close()

        assert [u for u in requests if not u.startswith(("file:", "data:"))] == []
        assert requests[0] == path.as_uri()
        assert errors == []
        # [bars, markers, lines] with a drawn (non-empty) box
        assert marks == {
            1: [0, 3, 1],  # subscribers: the last readings of Nov 10, 11, 12
            2: [7, 4, 1],  # joins Nov 9-11, leaves and removals Nov 10-11; net on 4 days
            3: [4, 0, 0],  # joins and still subscribed of the 2 links
            4: [2, 0, 0],  # views_24h known: the album (700) and post 1 (420)
            5: [1, 0, 0],  # ERR24 known: the album only (post 1 has no reading before it)
            6: [0, 35, 2],  # first 24 h of post 1 (9 runs from 16 h on) and the album (26)
        }
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert shot.stat().st_size > 20_000
