"""The page at `/` in a real browser (headless Chromium driven by Playwright): pick the domain, type a
question, press Ask, read the highlighted answer in its paragraph."""

from __future__ import annotations

import os
import shutil

import pytest
from serving import build_shop_index, running

from zeroxqa.config import ServeConfig
from zeroxqa.registry.store import promote, record_index

CHROMIUM = os.environ.get("ZEROXQA_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="no Chromium (.ci/run installs Debian's chromium)")


def test_the_page_answers_a_question_in_the_browser(tmp_path):
    from playwright.sync_api import sync_playwright

    from zeroxqa.serve.app import create_app

    registry = tmp_path / "registry.json"
    promote(registry, "shop.example", {"f1": 61.5, "exact": 50.0, "p50_ms": 5.0, "model": "squad", "accepted": "torch-fp32",
                                       "report": "r.md"})
    record_index(registry, "shop.example", build_shop_index(tmp_path / "index"))
    app = create_app(ServeConfig(registry=str(registry), threads=1))
    with running(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1000, "height": 900})
        page.goto(url)
        page.wait_for_selector("#domain option[value='shop.example']", state="attached")
        assert "F1 61.5" in page.inner_text("#domain")
        page.fill("#question", "How many days do I have to return an item?")
        page.click("#go")
        page.wait_for_selector("#result:not([hidden])")
        answer = page.inner_text("#answer")
        assert "30" in answer
        highlighted = page.inner_text(".para.chosen mark")
        assert highlighted == answer  # the answer is highlighted inside the paragraph it came from
        assert page.locator(".para").count() == 3
        assert "retrieve" in page.inner_text("#stats") and "ms" in page.inner_text("#stats")
        if shot := os.environ.get("ZEROXQA_SCREENSHOT"):  # the README's picture: ZEROXQA_SCREENSHOT=docs/serve.png
            page.screenshot(path=shot, full_page=True)
        # an empty question is stopped by the form itself: no request, no error shown, the last answer stays
        page.fill("#question", "")
        page.click("#go")
        assert page.is_hidden("#error") and page.inner_text("#answer") == answer
        browser.close()
