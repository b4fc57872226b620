"""The Airflow UI in a real browser (Debian's chromium through Selenium, no browser download):
log in, find every DAG with its tags and docs, fill a DAG's trigger form from its Params, trigger,
see the run succeed. Screenshots are kept in var/test-artifacts/ui (or $TEST_ARTIFACTS_DIR/ui)."""

from __future__ import annotations

import json
import os
import re
import secrets
import shutil
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import PROJECT_DIR
from tests.e2e.conftest import REVIEWER, Api

CHROMIUM, CHROMEDRIVER = "/usr/bin/chromium", "/usr/bin/chromedriver"
ARTIFACTS = (
    Path(os.environ.get("TEST_ARTIFACTS_DIR", PROJECT_DIR / "var" / "test-artifacts")) / "ui"
)
DAG_IDS = sorted(path.stem for path in (PROJECT_DIR / "dags").glob("*/*.py"))


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
    options.add_argument("--window-size=1400,1000")
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.implicitly_wait(0)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    _, base = running_airflow
    passwords = json.loads(
        (airflow_home.path / "simple_auth_manager_passwords.json.generated").read_text()
    )
    try:
        _log_in(driver, base, passwords[REVIEWER])
        yield driver
    finally:
        driver.quit()


def _wait(driver, condition, timeout_s: float = 30):
    from selenium.webdriver.support.ui import WebDriverWait

    return WebDriverWait(driver, timeout_s, poll_frequency=0.25).until(condition)


def _shot(driver, name: str) -> None:
    driver.save_screenshot(str(ARTIFACTS / f"{name}.png"))


def _log_in(driver, base: str, password: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    driver.get(f"{base}/auth/login")
    _wait(driver, ec.presence_of_element_located((By.NAME, "username"))).send_keys(REVIEWER)
    driver.find_element(By.NAME, "password").send_keys(password)
    _shot(driver, "01-login")
    driver.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    _wait(driver, lambda d: "/auth/login" not in d.current_url)


def _body(driver) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def _words(text: str) -> str:
    return " ".join(re.findall(r"[A-Za-z0-9]+", text))


def test_every_dag_is_listed_with_its_tags_and_its_docs_open(browser, running_airflow, api: Api):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec

    _, base = running_airflow
    browser.get(f"{base}/dags?limit=50")
    _wait(browser, lambda d: all(f"/dags/{dag_id}" in d.page_source for dag_id in DAG_IDS))
    _shot(browser, "02-dags")
    listed = _words(_body(browser))
    for dag_id in DAG_IDS:
        details = api.request("GET", f"/dags/{dag_id}/details").json()
        tags = sorted(tag["name"] for tag in details["tags"])
        assert tags and all(tag in listed for tag in tags), (dag_id, tags)

        browser.get(f"{base}/dags/{dag_id}")
        _wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "[aria-label='Dag Docs']")))
        browser.find_element(By.CSS_SELECTOR, "[aria-label='Dag Docs']").click()
        # the "Dag Documentation" window shows the first sentence of the DAG's doc_md, rendered
        first = next(
            line for line in details["doc_md"].splitlines() if line.strip() and "#" not in line
        )
        expected = " ".join(_words(first).split()[:6])
        _wait(
            browser,
            lambda d, expected=expected: (
                "Dag Documentation" in (text := _body(d)) and expected in _words(text)
            ),
        )
        if dag_id == "audio_analysis":
            _shot(browser, "03-docs-audio_analysis")


def test_a_run_triggered_from_the_params_form_succeeds(browser, running_airflow, api: Api):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support import expected_conditions as ec

    _, base = running_airflow
    trace_id = secrets.token_hex(16)
    browser.get(f"{base}/dags/audio_analysis")
    _wait(browser, ec.element_to_be_clickable((By.CSS_SELECTOR, "[aria-label='Trigger Dag']")))
    browser.find_element(By.CSS_SELECTOR, "[aria-label='Trigger Dag']").click()
    batch_size = _wait(browser, ec.element_to_be_clickable((By.NAME, "element_batch_size")))
    batch_size.send_keys(Keys.CONTROL, "a")
    batch_size.send_keys("7")
    browser.find_element(By.NAME, "element_trace_id").send_keys(trace_id)
    _shot(browser, "04-trigger-form")
    submit = browser.find_element(
        By.XPATH, "//button[normalize-space(.)='Trigger' and not(@aria-label='Trigger Dag')]"
    )
    browser.execute_script("arguments[0].scrollIntoView({block: 'center'})", submit)
    _wait(browser, ec.element_to_be_clickable(submit)).click()

    run = _wait_for_run(api, trace_id)
    assert run["conf"]["batch_size"] == 7, run["conf"]
    assert run["state"] == "success", run
    browser.get(f"{base}/dags/audio_analysis/runs/{run['dag_run_id']}")
    _wait(browser, lambda d: "success" in _body(d).lower())
    _shot(browser, "05-run-succeeded")


def _wait_for_run(api: Api, trace_id: str, timeout_s: float = 240) -> dict:
    deadline = time.monotonic() + timeout_s
    found: dict = {}
    while time.monotonic() < deadline:
        runs = api.request("GET", "/dags/audio_analysis/dagRuns", params={"limit": 100}).json()
        mine = [r for r in runs["dag_runs"] if (r.get("conf") or {}).get("trace_id") == trace_id]
        if mine:
            found = mine[0]
            if found["state"] in ("success", "failed"):
                return found
        time.sleep(1)
    pytest.fail(f"the run triggered from the form did not finish: {found or 'never created'}")
