"""The Prefect UI as a user opens it: the session's real `prefect server start` with its UI on a
free port (not 4200, so the UI only finds its API through PREFECT_UI_API_URL), the real
`nightly_ingest` flow on the bundled sample inbox, and the flow run's page in headless Chromium
(tests/browser.py, no network but loopback). The page must name the run and its flow, list the
artifacts the run made (`nightly-stages`, `nightly-summary`) on its Artifacts tab, and never say
"Can't connect to Server API". Screenshots go to `tests.browser.screenshot_dir()`:
`prefect-flow-run.png` and `prefect-artifacts.png`."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest

from tests import browser
from tests.conftest import SAMPLE_INBOX

pytestmark = [pytest.mark.browser, pytest.mark.flow]

NIGHT = "2026-03-14"
ARTIFACT_KEYS = ("nightly-stages", "nightly-summary")
NO_API = "Can't connect to Server API"
# The UI is a single-page app: it loads its bundle, then asks the API. Generous, the machine is
# shared; it bounds the wait and asserts nothing about speed.
RENDER_WAIT = 120.0


def _body(driver: Any) -> str:
    from selenium.webdriver.common.by import By

    return str(driver.find_element(By.TAG_NAME, "body").text)


def _wait_for_text(driver: Any, *texts: str) -> str:
    """The page's text once it shows every one of `texts`; fails on the UI's no-API toast."""
    deadline = time.monotonic() + RENDER_WAIT
    while True:
        body = _body(driver)
        assert NO_API not in body, body[:2000]
        if all(t in body for t in texts):
            return body
        if time.monotonic() > deadline:
            missing = [t for t in texts if t not in body]
            raise AssertionError(f"{missing} not on {driver.current_url}: {body[:2000]}")
        time.sleep(0.5)


def test_flow_run_page_shows_the_run_and_its_artifacts(prefect_server: str, tmp_path: Path) -> None:
    from prefect.client.orchestration import get_client
    from prefect.client.schemas.filters import ArtifactFilter, ArtifactFilterFlowRunId
    from prefect.settings import PREFECT_API_URL, temporary_settings
    from selenium.webdriver.common.by import By

    from flows.nightly import nightly_ingest

    api_url = prefect_server
    ui = api_url.removesuffix("/api")
    # What the UI's pages are told: the API on this port, not Prefect's default 4200.
    with urllib.request.urlopen(f"{ui}/ui-settings", timeout=30) as response:
        assert json.load(response)["api_url"] == api_url

    with temporary_settings({PREFECT_API_URL: api_url}):
        state = nightly_ingest(
            inbox=str(SAMPLE_INBOX),
            data_dir=str(tmp_path / "data"),
            run_date=NIGHT,
            workers=2,
            return_state=True,
        )
        assert state.is_completed(), state
        run_id = state.state_details.flow_run_id
        with get_client(sync_client=True) as client:
            run = client.read_flow_run(run_id)
            artifacts = client.read_artifacts(
                artifact_filter=ArtifactFilter(flow_run_id=ArtifactFilterFlowRunId(any_=[run_id]))
            )
    assert set(ARTIFACT_KEYS) <= {a.key for a in artifacts}

    driver = browser.start()
    try:
        driver.get(f"{ui}/runs/flow-run/{run_id}")
        body = _wait_for_text(driver, run.name, "nightly-ingest", "Completed", "Artifacts")
        driver.save_screenshot(str(browser.screenshot_dir() / "prefect-flow-run.png"))

        tab = driver.find_element(
            By.XPATH, "//li[contains(@class, 'p-tab') and normalize-space(.)='Artifacts']"
        )
        tab.click()
        body = _wait_for_text(driver, run.name, *ARTIFACT_KEYS)
        assert "tab=Artifacts" in driver.current_url
        # The cards name each artifact's type beside its key.
        assert "TABLE" in body and "MARKDOWN" in body, body[:2000]
        assert NO_API not in _body(driver)
        driver.save_screenshot(str(browser.screenshot_dir() / "prefect-artifacts.png"))
    finally:
        browser.quit(driver)
