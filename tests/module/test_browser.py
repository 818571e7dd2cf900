"""The page in a real browser: `php -S` serves it through the harness router, headless Chromium drives it.

Toggles callback on for a queue and saves (checked in the database), cancels a request and calls it again
(checked in the database), shows the CLI's refusal of a bad value, and saves a screenshot to
test-artifacts/queuecallback-page.png.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from freepbx_callback.config import Dsn

from .schema_compare import connect
from .tools import HARNESS, REPO, cli_command, cli_path

ARTIFACTS = REPO / "test-artifacts"
SCREENSHOT = ARTIFACTS / "queuecallback-page.png"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"

selenium = pytest.importorskip("selenium", reason="selenium is not installed (pip install selenium)")
pytestmark = [
    pytest.mark.skipif(shutil.which("php") is None, reason="php-cli is not installed"),
    pytest.mark.skipif(not Path(CHROMEDRIVER).exists(), reason="chromium-driver is not installed"),
]

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402
from selenium.webdriver.support import expected_conditions as ec  # noqa: E402
from selenium.webdriver.support.ui import WebDriverWait  # noqa: E402


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def run_cli(db_url: str, *args: str) -> str:
    done = subprocess.run(
        [*cli_command(), "--dsn", db_url, *args], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def query(dsn: Dsn, sql: str, *params: object) -> list[tuple]:
    conn = connect(dsn)
    try:
        cur = conn.cursor()
        cur.execute(sql, params)
        rows = list(cur.fetchall())
        conn.commit()
        return rows
    finally:
        conn.close()


@pytest.fixture
def site(dsn: Dsn, db_url_fixture: str, tmp_path: Path) -> Iterator[str]:
    query(
        dsn,
        "CREATE TABLE IF NOT EXISTS queues_config (extension VARCHAR(20) NOT NULL PRIMARY KEY,"
        " descr VARCHAR(35) NOT NULL DEFAULT '', ivr_id VARCHAR(8) NOT NULL DEFAULT '0',"
        " callback_id VARCHAR(8) NOT NULL DEFAULT '')",
    )
    query(
        dsn,
        "INSERT INTO queues_config (extension, descr, ivr_id) VALUES ('400', 'Sales', 'none'),"
        " ('401', 'Support', 'none'), ('402', 'Billing', '5')",
    )
    harness_dir = tmp_path / "harness"
    harness_dir.mkdir()
    (harness_dir / "state.json").write_text(
        json.dumps(
            {
                "recordings": [
                    {"id": "7", "displayname": "Offer (spring campaign)", "filename": "custom/offer-spring"},
                ]
            }
        )
    )
    port = free_port()
    env = dict(os.environ, QCB_DSN=db_url_fixture, QCB_CLI=cli_path(), QCB_HARNESS_DIR=str(harness_dir))
    log = open(tmp_path / "php-server.log", "wb")  # noqa: SIM115
    server = subprocess.Popen(
        ["php", "-S", f"127.0.0.1:{port}", str(HARNESS / "router.php")],
        cwd=HARNESS,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    try:
        import urllib.request

        deadline = time.monotonic() + 15
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/vendor/none", timeout=1)
            except urllib.error.HTTPError:
                break
            except OSError:
                if time.monotonic() > deadline or server.poll() is not None:
                    raise RuntimeError((tmp_path / "php-server.log").read_text()) from None
                time.sleep(0.1)
            else:
                break
        yield f"http://127.0.0.1:{port}"
    finally:
        server.terminate()
        server.wait(timeout=10)
        log.close()


@pytest.fixture
def db_url_fixture(db_dsn: str) -> str:
    return db_dsn


@pytest.fixture
def browser() -> Iterator[webdriver.Chrome]:
    profile = tempfile.mkdtemp(prefix="qcb-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-dev-shm-usage",
        "--window-size=1280,1000",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_toggle_save_cancel_and_screenshot(
    site: str, browser: webdriver.Chrome, dsn: Dsn, db_dsn: str
) -> None:
    run_cli(db_dsn, "queue", "set", "401", "--enable", "--did", "5552000")
    created = json.loads(run_cli(db_dsn, "request", "add", "401", "2015551234", "--json"))
    request_id = created["request"]["id"]
    run_cli(db_dsn, "request", "add", "401", "2015559876")
    wait = WebDriverWait(browser, 20)

    # Switch callback on for queue 400 from its form, submitted by the action bar.
    browser.get(f"{site}/admin/config.php?display=queuecallback")
    wait.until(ec.presence_of_element_located((By.ID, "qcb-queues")))
    browser.find_element(By.CSS_SELECTOR, 'tr[data-queue="400"] a.qcb-edit').click()
    wait.until(ec.presence_of_element_located((By.ID, "qcb-form")))
    browser.find_element(By.CSS_SELECTOR, 'label[for="qcb-enabled-yes"]').click()
    did = browser.find_element(By.ID, "qcb-did")
    did.clear()
    did.send_keys("+15551000")
    browser.find_element(By.CSS_SELECTOR, '#qcb-offer-recording option[value="7"]').click()
    browser.find_element(By.ID, "submit").click()
    message = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".qcb-message")))
    assert "400" in message.text
    rows = query(dsn, "SELECT enabled, did, prompts FROM qcb_queues WHERE queue = '400'")
    assert rows == [(1, "+15551000", "offer=custom/offer-spring")]

    # Cancel a request from the requests table (AJAX; the page asks first).
    browser.get(f"{site}/admin/config.php?display=queuecallback")
    row = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, f'tr[data-request="{request_id}"]')))
    row.find_element(By.CSS_SELECTOR, ".qcb-cancel").click()
    wait.until(ec.alert_is_present()).accept()
    wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'tr[data-request="{request_id}"] .qcb-status[data-status="cancelled"]')
        )
    )
    assert query(dsn, "SELECT status FROM qcb_requests WHERE id = %s", request_id) == [("cancelled",)]
    assert not row.find_elements(By.CSS_SELECTOR, ".qcb-cancel")

    # Call it again ("retry"): the request is open again.
    row.find_element(By.CSS_SELECTOR, ".qcb-retry").click()
    wait.until(
        ec.presence_of_element_located(
            (By.CSS_SELECTOR, f'tr[data-request="{request_id}"] .qcb-status[data-status="pending"]')
        )
    )
    assert query(dsn, "SELECT status FROM qcb_requests WHERE id = %s", request_id) == [("pending",)]
    assert "called again" in browser.find_element(By.CSS_SELECTOR, "#qcb-messages .qcb-message").text

    # The overview after both changes, for a human to look at.
    browser.get(f"{site}/admin/config.php?display=queuecallback")
    wait.until(ec.presence_of_element_located((By.ID, "qcb-requests")))
    on = browser.find_element(By.CSS_SELECTOR, 'tr[data-queue="400"] .qcb-state').text
    assert on == "On"
    assert browser.find_element(By.ID, "qcb-health").is_displayed()
    assert "IVR" in browser.find_element(By.CSS_SELECTOR, 'tr[data-queue="402"]').text
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(SCREENSHOT))
    assert SCREENSHOT.stat().st_size > 10_000


def test_filter_and_form_errors(site: str, browser: webdriver.Chrome, dsn: Dsn, db_dsn: str) -> None:
    run_cli(db_dsn, "queue", "set", "401", "--enable")
    first = json.loads(run_cli(db_dsn, "request", "add", "401", "2015551234", "--json"))["request"]["id"]
    run_cli(db_dsn, "request", "add", "401", "2015559876")
    run_cli(db_dsn, "request", "cancel", str(first))
    wait = WebDriverWait(browser, 20)
    browser.get(f"{site}/admin/config.php?display=queuecallback&status=cancelled")
    wait.until(ec.presence_of_element_located((By.ID, "qcb-requests")))
    ids = [
        e.get_attribute("data-request") for e in browser.find_elements(By.CSS_SELECTOR, "tr[data-request]")
    ]
    assert ids == [str(first)]

    browser.get(f"{site}/admin/config.php?display=queuecallback&view=form&queue=400")
    did = wait.until(ec.presence_of_element_located((By.ID, "qcb-did")))
    did.send_keys("<b>x</b>")
    browser.find_element(By.ID, "submit").click()
    error = wait.until(ec.presence_of_element_located((By.CSS_SELECTOR, ".qcb-error")))
    assert "DID" in error.text
    assert browser.find_element(By.ID, "qcb-did").get_attribute("value") == "<b>x</b>"
    assert query(dsn, "SELECT COUNT(*) FROM qcb_queues WHERE queue = '400'") == [(0,)]
