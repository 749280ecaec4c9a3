"""index.html in real headless Chromium: it loads offline from file://, shows the table and the image
grid, sorts on click, and logs no console error. Fails (does not skip) when Chromium is missing: CI
installs it (scripts/test.sh: Debian ``chromium`` + ``chromium-driver``)."""
from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from emobench.report import build_report
from support.report_fixture import make_run

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000"]


def _browser(tmp_path: Path):
    chromium = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome")
                     if shutil.which(n)), None)
    driver_bin = shutil.which("chromedriver")
    if not chromium or not driver_bin:
        pytest.fail("headless Chromium is required for the HTML report test: "
                    "apt-get install -y chromium chromium-driver (scripts/test.sh does this)")
    os.environ.setdefault("SE_OFFLINE", "true")  # never let Selenium Manager look for drivers online
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    opts = Options()
    opts.binary_location = chromium
    for flag in FLAGS + [f"--user-data-dir={tmp_path / 'chrome-profile'}"]:
        opts.add_argument(flag)
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    return webdriver.Chrome(service=Service(driver_bin), options=opts)


def _console_errors(driver) -> list[str]:
    return [e["message"] for e in driver.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]


@pytest.fixture(scope="module")
def browser(tmp_path_factory):
    d = _browser(tmp_path_factory.mktemp("chrome"))
    yield d
    d.quit()


def test_html_report_in_headless_chromium(tmp_path, browser):
    from selenium.webdriver.common.by import By

    run = make_run(tmp_path / "run", failed={"dreambooth": "fit failed: loss is NaN"}, n_per_emotion=4)
    build_report([run], figures=False)
    page = run / "index.html"
    browser.get(page.as_uri())
    browser.save_screenshot(str(tmp_path / "index.png"))
    assert (tmp_path / "index.png").stat().st_size > 10_000

    rows = browser.find_elements(By.CSS_SELECTOR, "table#leaderboard tbody tr")
    assert [r.find_elements(By.TAG_NAME, "td")[0].text for r in rows] == [
        "sd", "emogen", "textual-inversion", "dreambooth"]
    assert "failed" in rows[-1].get_attribute("class") and "loss is NaN" in rows[-1].text
    assert len(browser.find_elements(By.CSS_SELECTOR, "table#controls tbody tr")) == 2

    grids = browser.find_elements(By.CSS_SELECTOR, "table.grid")
    assert [g.get_attribute("data-emotion") for g in grids] == ["amusement", "awe", "contentment"]
    imgs = grids[0].find_elements(By.TAG_NAME, "img")
    assert len(imgs) == 3 * 4  # 3 ok methods × 4 cells
    # Every embedded image decoded (naturalWidth > 0), and carries its scores in the tooltip.
    assert browser.execute_script(
        "return Array.from(document.images).every(function(i){return i.complete && i.naturalWidth > 0;})")
    assert "Emo-A = " in imgs[0].get_attribute("title")
    # Same cell per column: the column header's seed appears in each method's image tooltip.
    first_col = [r.find_elements(By.TAG_NAME, "td")[0].find_element(By.TAG_NAME, "img").get_attribute("title")
                 for r in grids[0].find_elements(By.CSS_SELECTOR, "tbody tr")]
    assert all("seed 0" in t for t in first_col) and len(first_col) == 3

    # Sorting: click "FID↓", the numeric column values come back ascending, missing values last.
    header = browser.find_elements(By.CSS_SELECTOR, "table#leaderboard thead th")
    col = [h.text for h in header].index("FID↓")
    header[col].click()
    vals = browser.execute_script(
        "return Array.from(document.querySelectorAll('table#leaderboard tbody tr')).map("
        "function(r){var c=r.cells[arguments[0]]; return c ? c.getAttribute('data-v') : null;})"
        .replace("arguments[0]", str(col)))
    nums = [float(v) for v in vals if v]
    assert nums == sorted(nums) and len(nums) == 3
    assert header[col].get_attribute("aria-sort") == "ascending"
    header[col].click()
    assert header[col].get_attribute("aria-sort") == "descending"

    assert _console_errors(browser) == []
    html = page.read_text()
    assert "http://" not in html and "https://" not in html  # nothing to fetch: works offline


def test_console_error_is_detected(tmp_path, browser):
    """The console check above can fail: a page with a script error is caught."""
    bad = tmp_path / "bad.html"
    bad.write_text("<!DOCTYPE html><html><body><script>undefinedFunction();</script></body></html>")
    browser.get_log("browser")  # drain
    browser.get(bad.as_uri())
    assert any("undefinedFunction" in m for m in _console_errors(browser))
