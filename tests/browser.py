"""Headless Chromium for the tests that look at pages: Debian's `chromium` driven through its
matching `chromium-driver` by selenium (no browser download), with the network cut off.

A browser test is marked `browser`. When Chromium or its driver is missing it fails with a line
that says how to install them (the README's test command does) or how to leave such tests out
(`-m "not browser"`): a missing browser never passes for a green run. Screenshots the tests take
go to `WIREDESK_SCREENSHOTS` (default: `<tmp>/wiredesk-screenshots`), so a person can look.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
# Flags that work on the offline CI machine (as root): without the background-networking ones
# Chromium's own connections are refused by the closed network and logged.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1280,2000",
)
# No network but loopback: every host name except localhost fails to resolve, so a page that
# needs a CDN shows it (its request fails and is logged as a console error).
OFFLINE = "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1"

MISSING = (
    "chromium and chromium-driver are not installed: run `bash tests/install-browser.sh` "
    "(the README's test command does), or run the tests without them (a plain `pytest` "
    "leaves them out)"
)


def screenshot_dir() -> Path:
    path = Path(
        os.environ.get("WIREDESK_SCREENSHOTS")
        or Path(tempfile.gettempdir()) / "wiredesk-screenshots"
    )
    path.mkdir(parents=True, exist_ok=True)
    return path


def start(window: str = "1280,2000") -> Any:
    """A new headless Chromium with a fresh profile; the caller quits it."""
    if not (Path(CHROMIUM).exists() and Path(CHROMEDRIVER).exists()):
        pytest.fail(MISSING, pytrace=False)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    profile_dir = tempfile.mkdtemp(prefix="wiredesk-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in FLAGS:
        options.add_argument(
            flag if not flag.startswith("--window-size") else f"--window-size={window}"
        )
    options.add_argument(OFFLINE)
    options.add_argument(f"--user-data-dir={profile_dir}")
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver._wiredesk_profile = profile_dir
    return driver


def quit(driver: Any) -> None:
    profile_dir = getattr(driver, "_wiredesk_profile", None)
    driver.quit()
    if profile_dir:
        shutil.rmtree(profile_dir, ignore_errors=True)


def console_errors(driver: Any) -> list[dict[str, Any]]:
    """The SEVERE entries of the browser's log since the last call (network, console, script)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


@pytest.fixture
def browser() -> Iterator[Any]:
    driver = start()
    try:
        yield driver
    finally:
        quit(driver)
