"""The report and the `/reports/` index in a real browser (Debian's chromium through Selenium),
served by the running API server to a signed-in viewer, at a desktop (1280x900) and a phone
(390x844) viewport: nothing scrolls sideways, the headline figures are on the first screen.
Screenshots (first screen and whole page) are kept under the test's tmp dir; their paths are
printed (`pytest -s`)."""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from spotify_agent.analytics.reporting import build_reports
from spotify_agent.core.audit import Attempt
from spotify_agent.warehouse.engine import make_engine
from spotify_agent.warehouse.migrate import upgrade
from tests.e2e.conftest import VIEWER
from tests.include.analytics.report_seed import LAST_DAY, seed_report_history

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
VIEWPORTS = {"desktop": (1280, 900, False), "phone": (390, 844, True)}
ATTEMPT = Attempt("reporting", "manual__pages", "cd" * 16, task_id="build", try_number=1)
DAYS = [LAST_DAY - timedelta(days=n) for n in (7, 1, 0)]


@pytest.fixture(scope="module")
def stored_reports(airflow_home, tmp_path_factory) -> None:
    """Three days' and two weeks' reports, built from the seeded history into the object store
    the API server reads (from a warehouse of their own: the other tests' stays as it is)."""
    engine = make_engine(f"sqlite:///{tmp_path_factory.mktemp('pages') / 'warehouse.db'}")
    upgrade(engine)
    with engine.begin() as connection:
        seed_report_history(connection)
    now = datetime(2026, 11, 23, 2, 0, tzinfo=UTC)
    for kind in ("daily", "weekly"):
        build_reports(engine, airflow_home.objects_path, DAYS, kind, ATTEMPT, now=now)
    engine.dispose()


@pytest.fixture(scope="module")
def browser(airflow_home, running_airflow) -> Iterator[object]:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    for path in (CHROMIUM, CHROMEDRIVER):
        if not shutil.which(path):
            pytest.fail(f"{path} is missing: apt-get install chromium chromium-driver (README)")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    try:
        _log_in(driver, airflow_home, running_airflow[1])
        yield driver
    finally:
        driver.quit()


def _log_in(driver, airflow_home, base: str) -> None:
    """Through the UI's login form, as the least-privileged user (read access to the DAGs)."""
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    passwords = json.loads(
        (airflow_home.path / "simple_auth_manager_passwords.json.generated").read_text()
    )
    driver.get(f"{base}/auth/login")
    wait = WebDriverWait(driver, 30, poll_frequency=0.25)
    wait.until(ec.presence_of_element_located((By.NAME, "username"))).send_keys(VIEWER)
    driver.find_element(By.NAME, "password").send_keys(passwords[VIEWER])
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    wait.until(lambda d: "/auth/login" not in d.current_url)


def _open(driver, url: str, viewport: str) -> None:
    width, height, mobile = VIEWPORTS[viewport]
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": mobile},
    )
    driver.get(url)


def _screenshots(driver, folder: Path, name: str) -> list[Path]:
    """The first screen and the whole page, as PNG files."""
    first = folder / f"{name}.png"
    driver.save_screenshot(str(first))
    size = driver.execute_cdp_cmd("Page.getLayoutMetrics", {})["cssContentSize"]
    whole = driver.execute_cdp_cmd(
        "Page.captureScreenshot",
        {"captureBeyondViewport": True,
         "clip": {"x": 0, "y": 0, "width": size["width"], "height": size["height"], "scale": 1}},
    )  # fmt: skip
    full = folder / f"{name}-full.png"
    full.write_bytes(base64.b64decode(whole["data"]))
    for path in (first, full):
        print(f"screenshot: {path}")
    return [first, full]


# What the page shows, measured by the browser: its width against the viewport's, and each
# headline figure's box (and whether its text fits it).
MEASURE = """
const root = document.documentElement;
return {
  scroll: root.scrollWidth, width: root.clientWidth, height: window.innerHeight,
  figures: [...document.querySelectorAll(arguments[0])].map(e => {
    const box = e.getBoundingClientRect();
    return {text: e.textContent.trim(), left: box.left, right: box.right, top: box.top,
            bottom: box.bottom, fits: e.scrollWidth <= e.clientWidth + 1,
            visible: box.width > 0 && getComputedStyle(e).visibility === 'visible'};
  }),
};
"""


def _assert_first_screen(page: dict, what: str) -> None:
    assert page["scroll"] <= page["width"], f"{what} scrolls sideways: {page}"
    assert page["figures"], f"{what}: no headline figure found"
    for figure in page["figures"]:
        inside = 0 <= figure["left"] and figure["right"] <= page["width"]
        assert figure["visible"] and inside and figure["bottom"] <= page["height"], (what, figure)
        assert figure["fits"], (what, figure)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_report_reads_on_a_desktop_and_a_phone(
    browser, stored_reports, running_airflow, tmp_path, viewport
) -> None:
    from selenium.webdriver.common.by import By

    _, base = running_airflow
    _open(browser, f"{base}/reports/daily/{LAST_DAY}/report.html", viewport)
    assert browser.title == f"Listening report {LAST_DAY}"
    page = browser.execute_script(MEASURE, ".kpi .value")
    shots = _screenshots(browser, tmp_path, f"report-{viewport}")

    _assert_first_screen(page, f"the report at {viewport} width")
    assert [f["text"] for f in page["figures"]] == ["600", "40", "20.0", "10.0%", "0"]
    # Coloured as the business reads it: more plays than a week before is good news.
    change = browser.find_element(By.CSS_SELECTOR, "[data-metric=plays] .change.tone-good")
    assert change.text == "+20.0% vs same day last week" and change.is_displayed()
    assert all(path.stat().st_size > 10_000 for path in shots)


@pytest.mark.parametrize("viewport", list(VIEWPORTS))
def test_the_index_reads_on_a_desktop_and_a_phone(
    browser, stored_reports, running_airflow, tmp_path, viewport
) -> None:
    from selenium.webdriver.common.by import By

    _, base = running_airflow
    _open(browser, f"{base}/reports/", viewport)
    assert browser.title == "Listening reports"
    # The first row's figures (the newest daily report, whichever run made it).
    page = browser.execute_script(MEASURE, ".group:first-of-type .report:first-child .fig .value")
    shots = _screenshots(browser, tmp_path, f"index-{viewport}")

    _assert_first_screen(page, f"the index at {viewport} width")
    rows = browser.find_elements(By.CSS_SELECTOR, ".report")
    labels = [row.get_attribute("data-label") for row in rows]
    ours = [str(day) for day in reversed(DAYS)] + ["2026-W47", "2026-W46"]
    assert [label for label in labels if label in ours] == ours  # newest first, daily first
    row = rows[labels.index(str(LAST_DAY))]
    assert row.find_element(By.CSS_SELECTOR, "a").get_attribute("href") == (
        f"{base}/reports/daily/{LAST_DAY}/report.html"
    )
    plays = row.find_element(By.CSS_SELECTOR, "[data-metric=plays]").text.splitlines()
    assert plays[:3] == ["PLAYS", "600", "+0.0% vs previous day"]
    assert all(path.stat().st_size > 10_000 for path in shots)
