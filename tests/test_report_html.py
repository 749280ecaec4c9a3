"""index.html in real headless Chromium: it loads offline from file://, shows the table and the image
grid, sorts on click, and logs no console error. Fails (does not skip) when Chromium is missing: CI
installs it (scripts/test.sh: Debian ``chromium`` + ``chromium-driver``)."""
from __future__ import annotations


import pytest

from emobench.report import build_report
from support.browser import browser_session as _browser
from support.browser import console_errors as _console_errors
from support.report_fixture import make_run

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
