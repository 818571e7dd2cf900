"""Headless Chromium (selenium + Debian's chromium-driver), started as tests/freepbx/gui.py starts it."""

from __future__ import annotations

import os
import shutil
import tempfile
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.chrome.service import Service

CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def chromium(tz: str = "UTC", size: str = "900,900") -> webdriver.Chrome:
    """A new headless browser in time zone ``tz``; skips the test where Chromium is not installed."""
    if not Path(CHROMEDRIVER).exists() or not Path(CHROMIUM).exists():
        pytest.skip(
            "chromium and chromium-driver are not installed (apt-get install chromium chromium-driver)"
        )
    profile = tempfile.mkdtemp(prefix="qcb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for arg in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        f"--window-size={size}",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER, env={**os.environ, "TZ": tz}), options=options)
    driver.set_page_load_timeout(60)
    quit_ = driver.quit

    def quit_and_clean() -> None:
        try:
            quit_()
        finally:
            shutil.rmtree(profile, ignore_errors=True)

    driver.quit = quit_and_clean  # type: ignore[method-assign]
    return driver
